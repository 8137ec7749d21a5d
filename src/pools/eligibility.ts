// Which functions a warm pool can serve. A pool pod was started before any
// function was known, so whatever Kubernetes fixes when a pod starts must be
// the same for every function it may serve: the image, the ServiceAccount
// (the execution role: a pod's cannot change), the runtime container's
// memory limit and /tmp size, environment values Kubernetes resolves from
// Secrets or ConfigMaps (a pool never holds or fetches secret values), and
// LD_LIBRARY_PATH, which the loader reads only when a process starts.
// A function that does not fit starts a new pod of its own, as without pools.
// Pure.
import type { FunctionSpec } from '../api/function.js';
import type { PoolRuntime } from '../api/warm-pool.js';

/** What a gateway knows of a WarmPool when it picks one. */
export interface PoolView {
  name: string;
  runtime: PoolRuntime;
  memoryMB: number;
  ephemeralStorageMB: number;
}

export type PoolRefusal = 'runtime' | 'image' | 'role' | 'env-from' | 'loader-path' | 'memory' | 'storage' | 'no-pool';

export type PoolMatch = { ok: true; pool: PoolView } | { ok: false; refusal: PoolRefusal; message: string };

/** The pool family of a Lambda runtime, or undefined when no pool can start it ahead of time. */
export function poolRuntimeOf(runtime: string): PoolRuntime | undefined {
  if (runtime.startsWith('python')) return 'python';
  if (runtime.startsWith('nodejs')) return 'nodejs';
  return undefined;
}

/**
 * The pool that can serve a function with this spec, or why none can. Of
 * several that fit, the first by name, so every gateway picks the same.
 */
export function poolFor(spec: FunctionSpec, pools: readonly PoolView[]): PoolMatch {
  const family = poolRuntimeOf(spec.runtime);
  if (family === undefined) return { ok: false, refusal: 'runtime', message: `runtime ${spec.runtime} is not started ahead of a function` };
  if (spec.code.image !== undefined) return { ok: false, refusal: 'image', message: 'the function brings its own image' };
  if (spec.serviceAccountName !== undefined) return { ok: false, refusal: 'role', message: `the function runs as ServiceAccount ${spec.serviceAccountName}, and a running pod's cannot change` };
  const fromRef = (spec.env ?? []).find((e) => e.valueFrom !== undefined);
  if (fromRef !== undefined) return { ok: false, refusal: 'env-from', message: `variable ${fromRef.name} comes from a Secret or ConfigMap, which pools never hold` };
  // The dynamic loader reads LD_LIBRARY_PATH once, when a process starts: a pool's interpreter started before the function named it.
  if ((spec.env ?? []).some((e) => e.name === 'LD_LIBRARY_PATH')) return { ok: false, refusal: 'loader-path', message: 'the function sets LD_LIBRARY_PATH, which a running interpreter cannot take' };
  const sameFamily = pools.filter((p) => p.runtime === family).sort((a, b) => a.name.localeCompare(b.name));
  if (sameFamily.length === 0) return { ok: false, refusal: 'no-pool', message: `no warm pool of runtime ${family}` };
  const sized = sameFamily.filter((p) => p.memoryMB === spec.memoryMB);
  if (sized.length === 0) return { ok: false, refusal: 'memory', message: `no ${family} pool has memoryMB ${spec.memoryMB}` };
  const pool = sized.find((p) => p.ephemeralStorageMB >= spec.ephemeralStorageMB);
  if (pool === undefined) return { ok: false, refusal: 'storage', message: `no ${family} pool with memoryMB ${spec.memoryMB} has ${spec.ephemeralStorageMB} MB of /tmp` };
  return { ok: true, pool };
}
