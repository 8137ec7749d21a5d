// `hearth deploy` to a cluster: each local package goes into a ConfigMap's
// binaryData (`<function>-package`, `<function>-layer-<i>`, key package.zip),
// then the Function is server-side applied with its sources pointing at those
// ConfigMaps and naming their digests, so a new package is a new spec and the
// controller rolls the function.
import type { HearthFunction } from '../api/function.js';
import { RESOURCES, resourcePath } from '../kube/paths.js';
import { CONTENT_APPLY, type KubeRest } from '../kube/rest.js';
import { readAndCheckSources, replaceSource, slotName, type ReadSource, type SourceSlot } from './publish.js';

export const DEPLOY_FIELD_MANAGER = 'hearth-deploy';
export const PACKAGE_KEY = 'package.zip';
/** The API server refuses ConfigMaps whose data exceed 1 MiB; a little room is left for metadata. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024 - 4096;

export function packageConfigMapName(fn: string, slot: SourceSlot): string {
  return slot.kind === 'code' ? `${fn}-package` : `${fn}-layer-${slot.index}`;
}

export function packageConfigMap(fn: string, namespace: string, slot: SourceSlot, zip: Buffer, sha256: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: packageConfigMapName(fn, slot),
      namespace,
      labels: { 'app.kubernetes.io/managed-by': DEPLOY_FIELD_MANAGER, 'hearth.dev/function': fn },
      annotations: { 'hearth.dev/package-sha256': sha256 },
    },
    binaryData: { [PACKAGE_KEY]: zip.toString('base64') },
  };
}

async function apply(rest: KubeRest, path: string, body: unknown): Promise<void> {
  await rest.request('PATCH', path, { query: { fieldManager: DEPLOY_FIELD_MANAGER, force: true }, body, contentType: CONTENT_APPLY });
}

/** `sources`: the Function's packages already read and checked (readAndCheckSources); read and checked here otherwise. */
export async function deployToCluster(rest: KubeRest, fn: HearthFunction, raw: unknown, baseDir: string, namespace: string, sources?: readonly ReadSource[]): Promise<{ name: string; configMaps: string[] }> {
  const name = fn.metadata.name;
  let doc = replaceNamespace(raw, namespace);
  const configMaps: string[] = [];
  const read = sources ?? (await readAndCheckSources(fn, baseDir));
  // Every package must fit before any is applied: no half-published function.
  for (const pkg of read) {
    if (pkg.zip.length > CONFIGMAP_MAX_BYTES) {
      throw new Error(`${name}: ${slotName(pkg.slot)}: the package is ${pkg.zip.length} bytes, more than a ConfigMap holds (1 MiB); serve it over HTTPS and use url with sha256`);
    }
  }
  for (const pkg of read) {
    const cm = packageConfigMap(name, namespace, pkg.slot, pkg.zip, pkg.sha256);
    const cmName = packageConfigMapName(name, pkg.slot);
    await apply(rest, resourcePath(RESOURCES.ConfigMap, namespace, cmName), cm);
    configMaps.push(cmName);
    doc = replaceSource(doc, pkg.slot, { configMap: { name: cmName, key: PACKAGE_KEY }, sha256: pkg.sha256 });
  }
  await apply(rest, resourcePath(RESOURCES.Function, namespace, name), doc);
  return { name, configMaps };
}

function replaceNamespace(raw: unknown, namespace: string): Record<string, unknown> {
  const copy = structuredClone(raw) as Record<string, unknown>;
  const md = (typeof copy.metadata === 'object' && copy.metadata !== null ? copy.metadata : {}) as Record<string, unknown>;
  copy.metadata = { ...md, namespace };
  return copy;
}
