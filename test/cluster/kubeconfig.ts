import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** A token kubeconfig that verifies the server against the test CA. */
export async function writeKubeconfig(path: string, opts: { server: string; caPem: string; user: string; token: string }): Promise<void> {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'hearth-test', cluster: { server: opts.server, 'certificate-authority-data': Buffer.from(opts.caPem).toString('base64') } }],
    users: [{ name: opts.user, user: { token: opts.token } }],
    contexts: [{ name: 'hearth-test', context: { cluster: 'hearth-test', user: opts.user, namespace: 'default' } }],
    'current-context': 'hearth-test',
  };
  await writeFile(path, stringify(doc), { mode: 0o600 });
}
