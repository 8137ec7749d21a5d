// A published version of a Function: an immutable snapshot of its code and
// configuration, numbered as Lambda's PublishVersion numbers them. Defined
// once here for both homes of versions: FunctionVersion objects in a cluster
// (owned by their Function, so `kubectl get functionversions` lists them and
// deleting the Function deletes them) and YAML files under the functions
// directory's .hearth/versions/ in the embedded platform.
import { z } from 'zod';
import { API_VERSION, FunctionSpecSchema, FunctionStatusSchema, MetadataSchema, VERSION_NUMBER } from './function.js';

export const VERSION_KIND = 'FunctionVersion';
export const VERSION_PLURAL = 'functionversions';

export const FunctionVersionSpecSchema = z
  .strictObject({
    function: z.string().min(1).max(63).describe('Name of the Function this is a version of.'),
    version: z.string().regex(VERSION_NUMBER, 'must be a version number from 1').describe('The version number.'),
    description: z.string().max(256).optional().describe('What the publisher said of this version.'),
    codeSha256: z.string().regex(/^[a-f0-9]{64}$/).describe('SHA-256 of the snapshot (code and configuration): publishing an unchanged function returns the version with the same digest.'),
    snapshot: FunctionSpecSchema.describe('The Function\'s spec as it was published, minus what belongs to the function as a whole (aliases, versioning, schedules, reserved concurrency, replicas).'),
    replicas: z.number().int().min(0).max(1000).optional().describe('Instances of this version wanted now; written by the autoscaler through the scale subresource.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        // `function` is a CEL reserved word: the API server names the field __function__ in rules.
        rule: 'self.__function__ == oldSelf.__function__ && self.version == oldSelf.version && self.codeSha256 == oldSelf.codeSha256 && self.snapshot == oldSelf.snapshot',
        message: 'a published version is immutable: only replicas and description may change',
      },
    ],
  });
export type FunctionVersionSpec = z.infer<typeof FunctionVersionSpecSchema>;

/** A version's status: the instance fields of a Function's status, of the version's own instances. */
export const FunctionVersionStatusSchema = FunctionStatusSchema.pick({
  conditions: true,
  observedGeneration: true,
  readyInstances: true,
  desiredInstances: true,
  replicas: true,
  selector: true,
}).extend({
  desiredInstances: z.number().int().min(0).optional().describe('Instances this version should have.'),
});
export type FunctionVersionStatus = z.infer<typeof FunctionVersionStatusSchema>;

export const FunctionVersionSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(VERSION_KIND),
  metadata: MetadataSchema,
  spec: FunctionVersionSpecSchema,
  status: FunctionVersionStatusSchema.optional(),
});
export type FunctionVersion = z.infer<typeof FunctionVersionSchema>;
export type FunctionVersionInput = z.input<typeof FunctionVersionSchema>;
