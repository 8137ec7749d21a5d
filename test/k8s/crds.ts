import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

/** Every object in every .yaml/.yml/.json file of dir, in file-name order. */
export async function readManifests(dir: string): Promise<KubernetesObject[]> {
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  const objects: KubernetesObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, f), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj !== null) objects.push(obj);
    }
  }
  return objects;
}

/**
 * `kubectl apply --server-side -f dir`. Not client-node's KubernetesObjectApi:
 * it re-serialises objects through its typed models, which silently drop a
 * CRD schema's `default` and `x-kubernetes-validations` keys.
 */
export async function applyDir(kubectl: string, kubeconfigPath: string, dir: string): Promise<string> {
  try {
    const { stdout } = await run(kubectl, ['--kubeconfig', kubeconfigPath, 'apply', '--server-side', '--force-conflicts', '--field-manager=hearth-tests', '-f', dir]);
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`kubectl apply -f ${dir} failed:\n${stderr}`);
  }
}

export async function waitEstablished(kc: KubeConfig, crdNames: string[], timeoutMs = 30_000): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of crdNames) {
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await sleep(200);
    }
  }
}
