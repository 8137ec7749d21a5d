// `hearth deploy fn.yaml`: publishes Functions with their local packages,
// to the embedded platform's functions directory (default) or to a cluster.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { HearthFunction } from '../api/function.js';
import { validateYaml } from '../api/validate.js';
import { KubeRest } from '../kube/rest.js';
import { deployToCluster } from '../packages/deploy-cluster.js';
import { deployToDir } from '../packages/deploy-local.js';
import { readAndCheckSources, type ReadSource } from '../packages/publish.js';

const HELP = `usage: hearth deploy FILE.yaml... [--dir DIR] | [--cluster] [--kubeconfig FILE] [--namespace NS]

Publishes each Function with the packages its code.package.path and
layers[].path name (a ZIP file, or a directory, which is packaged). Each
package is first checked as the platform will unpack it (names, links,
sizes, duplicates, special files); if any is refused, nothing is published
and the exit status is 1.

Embedded platform (default): copies the packages and a rewritten YAML into
the functions directory, which a running 'hearth up' follows.
  --dir DIR          the functions directory (default: .)

Cluster (with --cluster, --kubeconfig or --namespace): stores each package in
a ConfigMap's binaryData (<name>-package, <name>-layer-<i>; at most 1 MiB) and
server-side applies the Function pointing at it.
  --kubeconfig FILE  default: $KUBECONFIG, ~/.kube/config or in-cluster
  --namespace NS     default: the kubeconfig context's namespace, or default`;

export async function deployCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: '.' },
      cluster: { type: 'boolean', default: false },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const toCluster = values.cluster || values.kubeconfig !== undefined || values.namespace !== undefined;
  const docs: Array<{ fn: HearthFunction; raw: unknown; baseDir: string }> = [];
  let invalid = false;
  for (const file of positionals) {
    const text = await readFile(file, 'utf8');
    const raw = parseAllDocuments(text);
    const list = Array.isArray(raw) ? raw : [raw];
    for (const doc of validateYaml(text)) {
      if (!doc.result.ok) {
        invalid = true;
        for (const p of doc.result.problems) console.error(`${file}#${doc.index}: ${p.path || '(document)'}: ${p.message}`);
        continue;
      }
      docs.push({ fn: doc.result.value, raw: list[doc.index]?.toJS() as unknown, baseDir: dirname(resolve(file)) });
    }
  }
  // Nothing is published unless every document is valid: a half-deployed set is harder to reason about.
  if (invalid) return 1;
  if (docs.length === 0) {
    console.error('hearth deploy: no Function documents found');
    return 1;
  }
  // Every package is read and checked as the platform will unpack it before
  // anything is published: a refusal shows here, not later in the platform's log.
  const checked: ReadSource[][] = [];
  for (const d of docs) {
    try {
      checked.push(await readAndCheckSources(d.fn, d.baseDir));
    } catch (err) {
      invalid = true;
      console.error(`hearth deploy: ${(err as Error).message}`);
    }
  }
  if (invalid) return 1;
  try {
    if (!toCluster) {
      for (const [i, d] of docs.entries()) {
        const r = await deployToDir(d.fn, d.raw, d.baseDir, values.dir, checked[i]);
        console.log(`${r.name}: ${r.files.join(', ')} -> ${values.dir}`);
      }
      return 0;
    }
    const kc = new KubeConfig();
    if (values.kubeconfig !== undefined) kc.loadFromFile(values.kubeconfig);
    else kc.loadFromDefault();
    const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const rest = new KubeRest(kc);
    try {
      for (const [i, d] of docs.entries()) {
        const r = await deployToCluster(rest, d.fn, d.raw, d.baseDir, namespace, checked[i]);
        console.log(`${r.name}: applied in ${namespace}${r.configMaps.length > 0 ? ` with ConfigMaps ${r.configMaps.join(', ')}` : ''}`);
      }
    } finally {
      rest.close();
    }
    return 0;
  } catch (err) {
    console.error(`hearth deploy: ${(err as Error).message}`);
    return 1;
  }
}
