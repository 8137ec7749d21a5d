// Keeps a catalog in line with the Functions of one namespace in the
// cluster, and with their published versions (FunctionVersion objects). A
// Function the schema refuses is left out: the controller marks it
// InvalidSpec, and the gateway answers 404 for it rather than run it. A
// FunctionVersion the schema refuses is left out the same way.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { MemoryCatalog } from '../api/catalog.js';
import type { FunctionVersion } from '../api/function-version.js';
import { validateFunction } from '../api/validate.js';
import { parseVersion } from '../store/kubernetes-store.js';
import { Informer } from '../kube/informer.js';
import { RESOURCES } from '../kube/paths.js';
import { KubeRest } from '../kube/rest.js';

export interface FunctionWatch {
  stop(): Promise<void>;
}

export async function watchClusterFunctions(opts: { kubeConfig: KubeConfig; namespace: string; catalog: MemoryCatalog; logger: Logger }): Promise<FunctionWatch> {
  const rest = new KubeRest(opts.kubeConfig);
  const informer = new Informer<KubernetesObject>(rest, RESOURCES.Function, {
    namespace: opts.namespace,
    onError: (err) => opts.logger.warn({ err }, 'watching Functions failed; retrying'),
  });
  const upsert = (obj: KubernetesObject) => {
    const name = obj.metadata?.name;
    if (name === undefined) return;
    // Status is the controller's; the gateway needs the spec only.
    const result = validateFunction({ ...obj, status: undefined });
    if (!result.ok) {
      opts.logger.warn({ function: name, problems: result.problems }, 'ignoring an invalid Function');
      opts.catalog.delete(name);
      return;
    }
    const old = opts.catalog.get(name);
    if (!old || JSON.stringify(old.spec) !== JSON.stringify(result.value.spec)) opts.catalog.set(result.value);
  };
  informer.on({
    add: upsert,
    update: upsert,
    delete: (obj) => {
      if (obj.metadata?.name) opts.catalog.delete(obj.metadata.name);
    },
  });
  const versions = watchVersions(opts, rest);
  await Promise.all([informer.start(), versions.start()]);
  return {
    async stop() {
      await Promise.all([informer.stop(), versions.stop()]);
      rest.close();
    },
  };
}

/**
 * Feeds catalog.setVersions from the FunctionVersions of the namespace. On
 * every event the function's whole list is rebuilt from the informer's
 * cache; it is handed on only when a version's spec changed, since the
 * controller's status writes (ready instances) change nothing that serves.
 */
function watchVersions(opts: { kubeConfig: KubeConfig; namespace: string; catalog: MemoryCatalog; logger: Logger }, rest: KubeRest): Informer<KubernetesObject> {
  const informer = new Informer<KubernetesObject>(rest, RESOURCES.FunctionVersion, {
    namespace: opts.namespace,
    onError: (err) => opts.logger.warn({ err }, 'watching FunctionVersions failed; retrying'),
  });
  const seen = new Map<string, string>();
  const functionOf = (obj: KubernetesObject): string | undefined => {
    const spec = (obj as { spec?: { function?: unknown } }).spec;
    return typeof spec?.function === 'string' ? spec.function : undefined;
  };
  const refresh = (name: string): void => {
    const versions: FunctionVersion[] = [];
    for (const obj of informer.list(opts.namespace)) {
      // One being deleted (foreground) serves no longer.
      if (functionOf(obj) !== name || obj.metadata?.deletionTimestamp !== undefined) continue;
      const v = parseVersion(obj);
      if (v === undefined) {
        opts.logger.warn({ function: name, object: obj.metadata?.name }, 'ignoring an invalid FunctionVersion');
        continue;
      }
      versions.push({ ...v, status: undefined });
    }
    versions.sort((a, b) => Number(a.spec.version) - Number(b.spec.version));
    const key = JSON.stringify(versions.map((v) => v.spec));
    if ((seen.get(name) ?? '[]') === key) return;
    if (versions.length === 0) seen.delete(name);
    else seen.set(name, key);
    opts.catalog.setVersions(name, versions);
  };
  const changed = (obj: KubernetesObject): void => {
    const name = functionOf(obj);
    if (name !== undefined) refresh(name);
  };
  informer.on({ add: changed, update: changed, delete: changed });
  return informer;
}
