// Builds the Function CustomResourceDefinition from the zod schema. Pure: the
// generator (crd-gen.ts) writes it to crds/ and a test fails when the file
// and this function disagree.
import { z } from 'zod';
import { stringify } from 'yaml';
import { FunctionSpecSchema, FunctionStatusSchema, GROUP, KIND, PLURAL, VERSION } from './function.js';

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

export function functionCrd(): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'function', shortNames: ['fn'], categories: ['hearth'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
          },
          additionalPrinterColumns: [
            { name: 'Runtime', type: 'string', jsonPath: '.spec.runtime' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Instances', type: 'integer', jsonPath: '.status.readyInstances' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A Lambda-style function run by Hearth.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: schemaOf(FunctionSpecSchema),
                status: schemaOf(FunctionStatusSchema),
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

export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;

export function functionCrdYaml(): string {
  return `# Generated from src/api/function.ts by \`npm run gen:crd\`. Do not edit.\n${stringify(functionCrd(), { lineWidth: 0 })}`;
}
