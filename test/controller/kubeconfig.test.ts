import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LightKubeConfig, loadKubeconfig } from '../../src/kube/kubeconfig.js';

function write(text: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-kubeconfig-'));
  const path = join(dir, 'config');
  writeFileSync(path, text);
  return { dir, path };
}

const doc = (user: string, cluster = '    certificate-authority-data: Q0E=\n'): string => `apiVersion: v1
kind: Config
current-context: b
contexts:
- name: a
  context: { cluster: one, user: u1 }
- name: b
  context: { cluster: two, user: u2 }
clusters:
- name: one
  cluster: { server: https://one:6443 }
- name: two
  cluster:
    server: https://two:6443
${cluster}users:
- name: u1
  user: { token: wrong }
- name: u2
  user:
${user}`;

async function options(kc: { applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }): Promise<https.RequestOptions> {
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  return o;
}

describe('LightKubeConfig', () => {
  it('reads the current context as client-node does: server, CA, token', async () => {
    const { path } = write(doc('    token: abc\n'));
    const light = await loadKubeconfig(path);
    expect(light).toBeInstanceOf(LightKubeConfig);
    const full = new KubeConfig();
    full.loadFromFile(path);
    expect(light.getCurrentCluster()?.server).toBe(full.getCurrentCluster()?.server);
    const [a, b] = [await options(light), await options(full)];
    expect(a.headers).toEqual(b.headers);
    expect(a.ca).toEqual(b.ca);
  });

  it('client certificates from files relative to the kubeconfig, and a token file', async () => {
    const { dir, path } = write(doc('    client-certificate: c.pem\n    client-key: k.pem\n    tokenFile: t\n', '    insecure-skip-tls-verify: true\n'));
    writeFileSync(join(dir, 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'k.pem'), 'KEY');
    writeFileSync(join(dir, 't'), 'tok\n');
    const o = await options(await loadKubeconfig(path));
    expect(String(o.cert)).toBe('CERT');
    expect(String(o.key)).toBe('KEY');
    expect(o.rejectUnauthorized).toBe(false);
    expect(o.headers).toEqual({ Authorization: 'Bearer tok' });
  });

  it('hands an exec plugin to client-node', async () => {
    const { path } = write(doc('    exec: { apiVersion: client.authentication.k8s.io/v1, command: /bin/true }\n'));
    expect(await loadKubeconfig(path)).toBeInstanceOf(KubeConfig);
  });
});
