// Builds the Function, FunctionVersion, WarmPool and EventSourceMapping CustomResourceDefinitions from the
// zod schemas. Pure: the generator (crd-gen.ts) writes them to crds/ and a
// test fails when a file and these functions disagree.
import { z } from 'zod';
import { stringify } from 'yaml';
import { FunctionSpecSchema, FunctionStatusSchema, GROUP, KIND, PLURAL, VERSION } from './function.js';
import { FunctionVersionSpecSchema, FunctionVersionStatusSchema, VERSION_KIND, VERSION_PLURAL } from './function-version.js';
import { POOL_KIND, POOL_PLURAL, WarmPoolSpecSchema, WarmPoolStatusSchema } from './warm-pool.js';
import { EventSourceMappingSpecSchema, EventSourceMappingStatusSchema, MAPPING_KIND, MAPPING_PLURAL } from './event-source-mapping.js';

type JsonSchema = { [key: string]: unknown };

// Keys zod emits that a structural OpenAPI v3 schema in a CRD may not carry.
const DROP = new Set(['$schema', 'id', '$id', 'additionalProperties:false']);

/**
 * Rewrites zod's OpenAPI 3.0 output into a structural schema: every node has a
 * type, no `additionalProperties: false`, no `format` Kubernetes would reject.
 */
export function toStructural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStructural);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(node as JsonSchema)) {
    if (DROP.has(k)) continue;
    if (k === 'additionalProperties' && v === false) continue;
    // `url` is not one of the formats the API server knows; CEL would be the
    // place for that check, and zod already does it for local files.
    if (k === 'format' && v === 'uri') continue;
    // A zod regex on a string's own pattern is ECMAScript; Kubernetes accepts
    // the same syntax for the simple patterns used here.
    if (k === 'properties' || k === 'additionalProperties' || k === 'items') {
      if (k === 'properties') {
        out[k] = Object.fromEntries(Object.entries(v as JsonSchema).map(([pk, pv]) => [pk, toStructural(pv)]));
      } else {
        out[k] = toStructural(v);
      }
      continue;
    }
    out[k] = v;
  }
  if (out['x-kubernetes-preserve-unknown-fields'] === true && out.type === undefined) out.type = 'object';
  return out;
}

function schemaOf(s: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' })) as JsonSchema;
}

/** What the kinds' CRDs differ in; the rest (structural schema, name rule) is shared. */
interface KindDefinition {
  /** Whether the kind has a scale subresource at .spec.replicas (default true). */
  scale?: boolean;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  printerColumns: { name: string; type: string; jsonPath: string; description?: string }[];
  spec: z.ZodType;
  status: z.ZodType;
}

function crdOf(d: KindDefinition): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${d.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: d.kind, listKind: `${d.kind}List`, plural: d.plural, singular: d.singular, shortNames: d.shortNames, categories: ['hearth'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            ...(d.scale === false ? {} : { scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } }),
          },
          additionalPrinterColumns: d.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: d.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: schemaOf(d.spec),
                status: schemaOf(d.status),
              },
              'x-kubernetes-validations': [
                {
                  rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",
                  message: 'metadata.name must be a lowercase DNS label of at most 63 characters',
                },
              ],
            },
          },
        },
      ],
    },
  };
}

const READY_COLUMN = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const INSTANCES_COLUMN = { name: 'Instances', type: 'integer', jsonPath: '.status.readyInstances' };
const AGE_COLUMN = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export function functionCrd(): JsonSchema {
  return crdOf({
    kind: KIND,
    plural: PLURAL,
    singular: 'function',
    shortNames: ['fn'],
    description: 'A Lambda-style function run by Hearth.',
    printerColumns: [
      { name: 'Runtime', type: 'string', jsonPath: '.spec.runtime' },
      READY_COLUMN,
      INSTANCES_COLUMN,
      { name: 'Latest', type: 'string', jsonPath: '.status.latestVersion', description: 'The highest version number published.' },
      { name: 'Aliases', type: 'string', jsonPath: '.status.aliases', description: 'The aliases in short: live=2 canary=3+4@10%.' },
      AGE_COLUMN,
    ],
    spec: FunctionSpecSchema,
    status: FunctionStatusSchema,
  });
}

/**
 * A published version as its own kind rather than a list in the Function's
 * status: `kubectl get functionversions` lists them, each scales through its
 * own scale subresource, the objects that run it are owned by it, and
 * ownership by the Function deletes them with it.
 */
export function functionVersionCrd(): JsonSchema {
  return crdOf({
    kind: VERSION_KIND,
    plural: VERSION_PLURAL,
    singular: 'functionversion',
    shortNames: ['fnv'],
    description: 'An immutable, numbered snapshot of a Function\'s code and configuration.',
    printerColumns: [
      { name: 'Function', type: 'string', jsonPath: '.spec.function' },
      { name: 'Version', type: 'string', jsonPath: '.spec.version' },
      READY_COLUMN,
      INSTANCES_COLUMN,
      AGE_COLUMN,
    ],
    spec: FunctionVersionSpecSchema,
    status: FunctionVersionStatusSchema,
  });
}

/**
 * A warm pool: pre-started generic pods of one runtime family, claimed by
 * gateways on cold starts (src/api/warm-pool.ts). No scale subresource:
 * the controller sizes the pool from its recent claims, between minSize and
 * maxSize.
 */
export function warmPoolCrd(): JsonSchema {
  return crdOf({
    kind: POOL_KIND,
    plural: POOL_PLURAL,
    scale: false,
    singular: 'warmpool',
    shortNames: ['wp'],
    description: 'A pool of pre-started generic pods of one runtime, claimed by gateways on cold starts.',
    printerColumns: [
      { name: 'Runtime', type: 'string', jsonPath: '.spec.runtime' },
      { name: 'Desired', type: 'integer', jsonPath: '.status.desiredSize', description: 'Idle pods the pool aims for now.' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyPods', description: 'Idle pods ready to be claimed.' },
      { name: 'Claims', type: 'integer', jsonPath: '.status.claims', description: 'Pods claimed since the controller started leading.' },
      { name: 'Per-Minute', type: 'number', jsonPath: '.status.claimsPerMinute', description: 'Recent claims per minute.' },
      AGE_COLUMN,
    ],
    spec: WarmPoolSpecSchema,
    status: WarmPoolStatusSchema,
  });
}

/**
 * An event-source mapping: a stream a function is invoked from, in batches
 * (src/api/event-source-mapping.ts). No scale subresource: the gateways'
 * pollers run it.
 */
export function eventSourceMappingCrd(): JsonSchema {
  return crdOf({
    kind: MAPPING_KIND,
    plural: MAPPING_PLURAL,
    scale: false,
    singular: 'eventsourcemapping',
    shortNames: ['esm'],
    description: 'A stream (Kafka or Redis Streams) whose records invoke a function in batches, with Lambda\'s event-source mapping semantics.',
    printerColumns: [
      { name: 'Function', type: 'string', jsonPath: '.spec.functionName' },
      { name: 'State', type: 'string', jsonPath: '.status.state' },
      { name: 'Lag', type: 'integer', jsonPath: '.status.totalLag', description: 'Records not yet committed, all partitions.' },
      { name: 'Last-Result', type: 'string', jsonPath: '.status.lastProcessingResult' },
      AGE_COLUMN,
    ],
    spec: EventSourceMappingSpecSchema,
    status: EventSourceMappingStatusSchema,
  });
}

export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;
export const MAPPING_CRD_FILE = `crds/${GROUP}_${MAPPING_PLURAL}.yaml`;
export const POOL_CRD_FILE = `crds/${GROUP}_${POOL_PLURAL}.yaml`;
export const VERSION_CRD_FILE = `crds/${GROUP}_${VERSION_PLURAL}.yaml`;

const header = (source: string) => `# Generated from ${source} by \`npm run gen:crd\`. Do not edit.\n`;

export function functionCrdYaml(): string {
  return `${header('src/api/function.ts')}${stringify(functionCrd(), { lineWidth: 0 })}`;
}

export function functionVersionCrdYaml(): string {
  return `${header('src/api/function-version.ts')}${stringify(functionVersionCrd(), { lineWidth: 0 })}`;
}

export function warmPoolCrdYaml(): string {
  return `${header('src/api/warm-pool.ts')}${stringify(warmPoolCrd(), { lineWidth: 0 })}`;
}

export function eventSourceMappingCrdYaml(): string {
  return `${header('src/api/event-source-mapping.ts')}${stringify(eventSourceMappingCrd(), { lineWidth: 0 })}`;
}

/** Every generated CRD file (a path under the repository, or the chart) and its content. */
export function crdFiles(): { file: string; yaml: string }[] {
  return [
    { file: CRD_FILE, yaml: functionCrdYaml() },
    { file: VERSION_CRD_FILE, yaml: functionVersionCrdYaml() },
    { file: POOL_CRD_FILE, yaml: warmPoolCrdYaml() },
    { file: MAPPING_CRD_FILE, yaml: eventSourceMappingCrdYaml() },
  ];
}
