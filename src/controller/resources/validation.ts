// The controller's deeper checks. The CRD's OpenAPI schema and CEL rules
// catch most mistakes at admission; what they cannot express (and any drift
// between CRD and schema) is caught here and reported in the status, never
// by crashing or retrying.
import type { FunctionSpec, HearthFunction } from '../../api/function.js';
import { describeProblems, validateFunction } from '../../api/validate.js';
import { runtimeImage, type Images } from './images.js';
import type { FunctionMeta } from './names.js';

/** A Function (or FunctionVersion) as the API server hands it over: untyped beyond its identity. */
export interface FunctionObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; uid?: string }[];
    finalizers?: string[];
    deletionTimestamp?: Date | string;
  };
  spec?: unknown;
  status?: unknown;
}

export type Checked =
  | { ok: true; fn: HearthFunction; meta: FunctionMeta }
  | { ok: false; reason: 'InvalidSpec' | 'UnsupportedSpec'; message: string };

const MAX_MESSAGE = 2000;

export function metaOf(obj: FunctionObject): FunctionMeta {
  return {
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace ?? 'default',
    uid: obj.metadata?.uid ?? '',
    ...(obj.metadata?.generation !== undefined ? { generation: obj.metadata.generation } : {}),
  };
}

/** Validates the Function against the zod schema (filling defaults the CRD may not), then what this controller can run. */
export function checkFunction(obj: FunctionObject, images: Images): Checked {
  const md = obj.metadata ?? {};
  // Only what the schema describes: server metadata and our own status are not the user's input.
  const doc = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: md.name,
      ...(md.namespace !== undefined ? { namespace: md.namespace } : {}),
      ...(md.labels !== undefined ? { labels: md.labels } : {}),
      ...(md.annotations !== undefined ? { annotations: md.annotations } : {}),
    },
    spec: obj.spec,
  };
  const result = validateFunction(doc);
  if (!result.ok) {
    return { ok: false, reason: 'InvalidSpec', message: truncate(describeProblems(result.problems)) };
  }
  const fn = result.value;
  const unsupported = unsupportedReason(fn.spec, images);
  if (unsupported !== undefined) return { ok: false, reason: 'UnsupportedSpec', message: unsupported };
  return { ok: true, fn, meta: metaOf(obj) };
}

/**
 * Why a valid spec cannot run in this cluster, with its field path (under
 * `prefix`: a published version's is spec.snapshot); undefined when it can.
 */
export function unsupportedReason(spec: FunctionSpec, images: Images, prefix = 'spec'): string | undefined {
  // A file on someone's disk cannot reach a pod: `hearth deploy` publishes it into a ConfigMap.
  const localPath = [spec.code.package, ...(spec.layers ?? [])].findIndex((p) => p?.path !== undefined);
  if (localPath >= 0) {
    const field = localPath === 0 ? `${prefix}.code.package.path` : `${prefix}.layers[${localPath - 1}].path`;
    return `${field}: a local file cannot be used in a cluster; publish it with \`hearth deploy\` (ConfigMap) or use url with sha256`;
  }
  if (runtimeImage(spec, images) === undefined) return `${prefix}.code: runtime ${spec.runtime} needs code.image in a cluster`;
  return undefined;
}

/** A message as long as a condition may usefully hold. */
export function truncate(s: string): string {
  return s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 1)}…`;
}
