// Keeps a catalog in line with the Functions of one namespace in the
// cluster. A Function the schema refuses is left out: the controller marks
// it InvalidSpec, and the gateway answers 404 for it rather than run it.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { MemoryCatalog } from '../api/catalog.js';
import { validateFunction } from '../api/validate.js';
import { Informer } from '../kube/informer.js';
import { RESOURCES } from '../kube/paths.js';
import { KubeRest } from '../kube/rest.js';

export interface FunctionWatch {
  stop(): Promise<void>;
}

export async function watchClusterFunctions(opts: { kubeConfig: KubeConfig; namespace: string; catalog: MemoryCatalog; logger: Logger }): Promise<FunctionWatch> {
  const rest = new KubeRest(opts.kubeConfig);
  const informer = new Informer<KubernetesObject>(opts.kubeConfig, rest, RESOURCES.Function, {
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
  await informer.start();
  return {
    async stop() {
      await informer.stop();
      rest.close();
    },
  };
}
