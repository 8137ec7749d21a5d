// What a pod needs to run a function whose code or layers are ZIP packages:
// emptyDir volumes at /var/task and /opt, filled before the runtime starts by
// init containers running `hearth unpack` (the same safe unpacker as the
// embedded platform), from ConfigMap volumes (binaryData) or URLs. The runtime
// then mounts both read-only, as Lambda's /var/task and /opt are. Pure, for
// the controller's Deployment builder.
import type { V1Container, V1EnvVar, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { HearthFunction, PackageSource } from '../api/function.js';
import { optEnv } from './opt-env.js';
import { formatSourceRef } from './source-ref.js';

export const POD_TASK_ROOT = '/var/task';
export const POD_OPT_DIR = '/opt';
/** Lambda's PATH; a pod cannot append to the image's PATH, so it is written out in full. */
export const POD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SOURCES = '/hearth/sources';
/** 250 MB unzipped is Lambda's limit; emptyDir sizes are in MiB. */
const UNZIPPED_LIMIT = '250Mi';

export interface PackagePodParts {
  volumes: V1Volume[];
  /** Run in order before the pod's app containers (the agent needs nothing of them; the runtime does). */
  initContainers: V1Container[];
  /** Mounts for the runtime container: /var/task and /opt, read-only. */
  runtimeMounts: V1VolumeMount[];
}

export interface PackagePodOptions {
  /** An image holding the hearth CLI (the agent image does). */
  image: string;
  securityContext?: V1SecurityContext;
}

/** Undefined when the function uses neither code.package nor layers. */
export function packagePodParts(fn: HearthFunction, opts: PackagePodOptions): PackagePodParts | undefined {
  const pkg = fn.spec.code.package;
  const layers = fn.spec.layers ?? [];
  if (pkg === undefined && layers.length === 0) return undefined;
  const parts: PackagePodParts = { volumes: [], initContainers: [], runtimeMounts: [] };
  const fill = (volume: string, dest: string, sources: Array<{ id: string; src: PackageSource }>): void => {
    parts.volumes.push({ name: volume, emptyDir: { sizeLimit: UNZIPPED_LIMIT } });
    parts.runtimeMounts.push({ name: volume, mountPath: dest, readOnly: true });
    const mounts: V1VolumeMount[] = [{ name: volume, mountPath: dest }];
    const refs: string[] = [];
    for (const { id, src } of sources) {
      const ref = sourceRef(id, src, parts.volumes, mounts);
      if (ref !== undefined) refs.push(ref);
    }
    parts.initContainers.push({
      name: `unpack-${volume}`,
      image: opts.image,
      // The kubelet does not start a pod whose required ConfigMap is missing, so a missing file can only be an optional source.
      args: ['unpack', '--skip-missing', '--dest', dest, ...refs],
      volumeMounts: mounts,
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
      ...(opts.securityContext ? { securityContext: opts.securityContext } : {}),
    });
  };
  if (pkg !== undefined) fill('task', POD_TASK_ROOT, [{ id: 'code', src: pkg }]);
  if (layers.length > 0) {
    fill('opt', POD_OPT_DIR, layers.map((src, i) => ({ id: `layer-${i}`, src })));
  }
  return parts;
}

/** Where the runtime finds the function's layers under /opt (none without layers): for a Deployment's pods and a claimed warm-pool pod alike. */
export function layerEnv(fn: HearthFunction): V1EnvVar[] {
  if ((fn.spec.layers ?? []).length === 0) return [];
  return Object.entries(optEnv(POD_OPT_DIR, fn.spec.runtime, { PATH: POD_PATH })).map(([name, value]) => ({ name, value }));
}

/** A ConfigMap source becomes a volume holding one file; a URL is fetched by the init container itself. */
function sourceRef(id: string, src: PackageSource, volumes: V1Volume[], mounts: V1VolumeMount[]): string | undefined {
  if (src.url !== undefined) return formatSourceRef(src.url, src.sha256);
  if (src.configMap !== undefined) {
    const volume = `src-${id}`;
    volumes.push({
      name: volume,
      configMap: { name: src.configMap.name, items: [{ key: src.configMap.key, path: 'package.zip' }], ...(src.configMap.optional !== undefined ? { optional: src.configMap.optional } : {}) },
    });
    mounts.push({ name: volume, mountPath: `${SOURCES}/${id}`, readOnly: true });
    return formatSourceRef(`${SOURCES}/${id}/package.zip`, src.sha256);
  }
  // code.package.path exists only on the machine running the embedded platform; `hearth deploy` turns it into a ConfigMap.
  throw new Error(`${src.path ?? 'a package'}: a local path cannot be used in a cluster; publish it with hearth deploy`);
}
