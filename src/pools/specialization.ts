// What a gateway hands a claimed pool pod's agent (POST SPECIALIZE_PATH on
// the agent's port): the function's code and configuration. The agent
// writes the code into the pod's task root (and layers into /opt), then
// gives the waiting runtime its environment as one line of JSON, the
// warm-pool protocol of runtimes/README.md, and the runtime initialises in
// place. The wire form is checked by the zod schema below on the agent's
// side, so a pod never acts on a body it does not understand.
import { z } from 'zod';
import { APPLICATION_LOG_LEVELS, LOG_FORMATS, SYSTEM_LOG_LEVELS, type FunctionSpec } from '../api/function.js';
import { contentHash } from '../controller/resources/hash.js';

/** On the agent's port, beside the invoke endpoint, /healthz, /readyz and /drain. */
export const SPECIALIZE_PATH = '/2018-06-01/hearth/specialize';

/** Largest specialisation body an agent reads: Lambda's 250 MB unzipped limit bounds what a package and its layers can be; base64 adds a third. */
export const SPECIALIZE_BODY_LIMIT = 350 * 1024 * 1024;

export const ArchiveSchema = z.strictObject({
  /** task: unpacked into the task root (code.package); opt: into /opt (a layer, in the function's order). */
  into: z.enum(['task', 'opt']),
  /** An HTTP(S) URL the agent fetches itself (a package or layer given by url), checked against sha256. */
  url: z.string().url().optional(),
  /** The ZIP's bytes, base64 (a package or layer kept in a ConfigMap, which the pod may not read itself). */
  zipBase64: z.string().optional(),
  sha256: z.string().regex(/^[a-f0-9]{64}$/).optional(),
});
export type Archive = z.infer<typeof ArchiveSchema>;

export const SpecializationSchema = z.strictObject({
  /** The serving unit, NAME or NAME:N (logs and the agent's function name). */
  unit: z.string().min(1),
  functionName: z.string().min(1),
  /** $LATEST or the version's number. */
  version: z.string().min(1),
  memoryMB: z.number().int().positive(),
  timeoutSeconds: z.number().int().positive(),
  concurrency: z.number().int().positive(),
  /** The runtime's environment beyond its image's: exactly the runtime container env a Deployment's pod of this unit gets (runtimeEnv in src/controller/resources/deployment.ts), every value a literal. */
  env: z.record(z.string(), z.string()),
  /** Files for the task root, name → base64 content: inline code, or a code ConfigMap's keys. */
  files: z.record(z.string(), z.string()).optional(),
  /** ZIP archives, unpacked in order. */
  archives: z.array(ArchiveSchema).optional(),
  /** spec.logging's settings for the agent (src/agent/log-format.ts), given in JSON only: absent is Text. */
  logging: z
    .strictObject({ format: z.enum(LOG_FORMATS), applicationLogLevel: z.enum(APPLICATION_LOG_LEVELS), systemLogLevel: z.enum(SYSTEM_LOG_LEVELS) })
    .optional(),
});
export type Specialization = z.infer<typeof SpecializationSchema>;

/**
 * A hash of everything a claimed pod was given that a change of the
 * function would change: a claimed pod whose hash differs from its unit's
 * current one runs old code or configuration, and the controller replaces
 * it as a rollout replaces a Deployment's pods. The gateway writes it on the
 * pod when it claims (ANNOTATION_SPEC_HASH); the controller computes the
 * same from the spec it reconciles. Pure.
 */
export function instanceSpecHash(spec: FunctionSpec): string {
  return contentHash({
    runtime: spec.runtime,
    handler: spec.handler,
    code: spec.code,
    layers: spec.layers,
    env: spec.env,
    memoryMB: spec.memoryMB,
    timeoutSeconds: spec.timeoutSeconds,
    concurrency: spec.concurrency,
    ephemeralStorageMB: spec.ephemeralStorageMB,
    // A pod's ServiceAccount cannot change: a function given a role of its own
    // must leave the pool pods it runs in (absent, it leaves the hash as it was).
    serviceAccountName: spec.serviceAccountName,
    // The agent formats and filters the output: a claimed pod's settings are fixed at its claim (absent, the hash is as it was).
    logging: spec.logging,
  });
}
