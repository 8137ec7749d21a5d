// The v1 ConfigMaps and Secrets a Function may refer to (env valueFrom,
// code.configMap, code.package.configMap, layers[].configMap), as manifests:
// what the embedded platform reads from its functions directory, validated as
// `kubectl apply` would take them, and the references of a Function to them.
// Pure: no I/O.
import { z } from 'zod';
import { MetadataSchema, type FunctionSpec } from './function.js';
import { problemsOf, type Problem } from './validate.js';

export type ObjectKind = 'ConfigMap' | 'Secret';
export const OBJECT_KINDS: readonly ObjectKind[] = ['ConfigMap', 'Secret'];

/** Kubernetes' limit on the data of one ConfigMap or Secret. */
export const MAX_OBJECT_BYTES = 1024 * 1024;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Kubernetes' rule for ConfigMap and Secret keys (they become file names in a volume); undefined: a good key. */
function keyProblem(k: string): string | undefined {
  if (k.length === 0 || k.length > 253) return 'a key must be 1 to 253 characters long';
  if (!/^[-._a-zA-Z0-9]+$/.test(k)) return 'keys may hold only letters, digits, -, _ and .';
  if (k === '.' || k.startsWith('..')) return 'a key may not be . or start with ..';
  return undefined;
}

// Keys are checked here rather than by a key schema, so the problem names the key and says what is wrong with it.
const keyed = <V extends z.ZodType<unknown, string>>(value: V) =>
  z.record(z.string(), value).superRefine((rec, ctx) => {
    for (const k of Object.keys(rec)) {
      const problem = keyProblem(k);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: problem });
    }
  });

// Go's decoder, which the API server uses for []byte fields, skips line breaks.
const Base64 = z
  .string()
  .transform((s) => s.replace(/[\r\n]/g, ''))
  .refine((s) => BASE64.test(s), 'must be base64');

// A Function's metadata but for the name: ConfigMaps and Secrets take DNS subdomains.
const ObjectMetadata = MetadataSchema.extend({
  name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN, 'must be a lowercase DNS subdomain (a-z, 0-9, - and .)'),
});

export const ConfigMapManifestSchema = z
  .strictObject({
    apiVersion: z.literal('v1'),
    kind: z.literal('ConfigMap'),
    metadata: ObjectMetadata,
    data: keyed(z.string()).optional(),
    binaryData: keyed(Base64).optional(),
    immutable: z.boolean().optional(),
  })
  .superRefine((cm, ctx) => {
    for (const k of Object.keys(cm.binaryData ?? {})) {
      if (cm.data?.[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['binaryData', k], message: 'is also a key of data; a key may be in only one of them' });
    }
  });

export const SecretManifestSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: ObjectMetadata,
  type: z.string().max(253).optional(),
  data: keyed(Base64).optional(),
  stringData: keyed(z.string()).optional(),
  immutable: z.boolean().optional(),
});

/** One key's value: `text` for what env may take (ConfigMap data, any Secret key), `bytes` for what a file holds. */
export interface ObjectValue {
  text?: string;
  bytes: Buffer;
}

export interface ConfigObject {
  kind: ObjectKind;
  name: string;
  values: ReadonlyMap<string, ObjectValue>;
}

export type ObjectValidationResult = { ok: true; value: ConfigObject } | { ok: false; problems: Problem[] };

/** Whether a parsed document is meant as a ConfigMap or Secret (and so validated as one). */
export function isConfigObjectDocument(doc: unknown): boolean {
  const kind = (doc as { kind?: unknown } | null)?.kind;
  return typeof doc === 'object' && doc !== null && (OBJECT_KINDS as readonly unknown[]).includes(kind);
}

/** Validates a ConfigMap or Secret manifest and normalises its keys; never throws. */
export function validateConfigObject(doc: unknown): ObjectValidationResult {
  const kind = (doc as { kind?: unknown }).kind;
  const values = new Map<string, ObjectValue>();
  let name: string;
  if (kind === 'ConfigMap') {
    const parsed = ConfigMapManifestSchema.safeParse(doc, { reportInput: true });
    if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
    name = parsed.data.metadata.name;
    for (const [k, text] of Object.entries(parsed.data.data ?? {})) values.set(k, { text, bytes: Buffer.from(text, 'utf8') });
    for (const [k, b64] of Object.entries(parsed.data.binaryData ?? {})) values.set(k, { bytes: Buffer.from(b64, 'base64') });
  } else {
    const parsed = SecretManifestSchema.safeParse(doc, { reportInput: true });
    if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
    name = parsed.data.metadata.name;
    for (const [k, b64] of Object.entries(parsed.data.data ?? {})) values.set(k, secretValue(Buffer.from(b64, 'base64')));
    // As the API server does: stringData is written over data.
    for (const [k, text] of Object.entries(parsed.data.stringData ?? {})) values.set(k, secretValue(Buffer.from(text, 'utf8')));
  }
  const size = [...values].reduce((n, [k, v]) => n + Buffer.byteLength(k) + v.bytes.length, 0);
  if (size > MAX_OBJECT_BYTES) {
    return { ok: false, problems: [{ path: 'data', message: `holds ${size} bytes; Kubernetes allows at most ${MAX_OBJECT_BYTES} bytes in a ${String(kind)}` }] };
  }
  return { ok: true, value: { kind: kind as ObjectKind, name, values } };
}

function secretValue(bytes: Buffer): ObjectValue {
  return { text: bytes.toString('utf8'), bytes };
}

export interface ObjectRef {
  kind: ObjectKind;
  name: string;
}

export function objectId(ref: ObjectRef): string {
  return `${ref.kind}/${ref.name}`;
}

/** Every ConfigMap and Secret a Function's spec refers to, once each. */
export function referencedObjects(spec: FunctionSpec): ObjectRef[] {
  const refs: ObjectRef[] = [];
  for (const e of spec.env ?? []) {
    if (e.valueFrom?.secretKeyRef) refs.push({ kind: 'Secret', name: e.valueFrom.secretKeyRef.name });
    if (e.valueFrom?.configMapKeyRef) refs.push({ kind: 'ConfigMap', name: e.valueFrom.configMapKeyRef.name });
  }
  if (spec.code.configMap) refs.push({ kind: 'ConfigMap', name: spec.code.configMap.name });
  if (spec.code.package?.configMap) refs.push({ kind: 'ConfigMap', name: spec.code.package.configMap.name });
  for (const l of spec.layers ?? []) if (l.configMap) refs.push({ kind: 'ConfigMap', name: l.configMap.name });
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(objectId(r)) && seen.add(objectId(r)));
}

/** A key's value, or why there is none (naming the object and the key). */
export type ObjectLookup = { ok: true; value: ObjectValue } | { ok: false; reason: string };

/** Where a local backend finds the ConfigMaps and Secrets its Functions refer to. */
export interface ConfigObjectSource {
  lookup(kind: ObjectKind, name: string, key: string): ObjectLookup;
  /** All keys of one object, for code.configMap; a string says why there are none. */
  entries(kind: ObjectKind, name: string): ReadonlyMap<string, ObjectValue> | string;
  /** Changes whenever any of these objects is added, changed or removed. */
  digest(refs: readonly ObjectRef[]): string;
}
