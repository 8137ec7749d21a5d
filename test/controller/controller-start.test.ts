// Starting and stopping the controller against a loopback stand-in for the
// API server that lists every kind empty and holds watches open. On one
// that does not serve the WarmPool kind (its CRD not installed: `helm
// upgrade` installs no new CRD; it answers 404 as a real one does for a kind
// it does not know) the controller still syncs and runs Functions, without
// pools. Stopped while still starting, it leaves no watch behind.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import { defaultImages } from '../../src/controller/resources/images.js';

async function fakeApiServer(servesPools: boolean, listDelayMs = 0) {
  const asked: string[] = [];
  const watching = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    asked.push(url.pathname);
    if (!servesPools && url.pathname.includes('/warmpools')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' }));
      return;
    }
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watching.add(res);
      res.on('close', () => watching.delete(res));
      return; // held open until the client goes
    }
    const list = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
    if (listDelayMs > 0) setTimeout(list, listDelayMs);
    else list();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc,
    asked,
    watching,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('controller start and stop', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it.each([
    { servesPools: false, what: 'not served' },
    { servesPools: true, what: 'served' },
  ])('syncs when the kind is $what', async ({ servesPools }) => {
    const api = await fakeApiServer(servesPools);
    const controller = new Controller({ kubeConfig: api.kc, namespace: 'n', images: defaultImages('t'), gatewayService: 'gw', gatewayNamespace: 'n', workers: 1 });
    stop = async () => {
      await controller.stop();
      await api.close();
    };
    await controller.start();
    for (let i = 0; i < 100 && !controller.synced; i++) await sleep(20);
    expect(controller.synced).toBe(true);
    expect(api.asked).toContain('/apis/hearth.dev/v1alpha1/namespaces/n/warmpools');
  });

  it('leaves no watch open when stopped while it was still starting (SIGTERM right after winning the lease)', async () => {
    const api = await fakeApiServer(true, 200);
    const controller = new Controller({ kubeConfig: api.kc, namespace: 'n', images: defaultImages('t'), gatewayService: 'gw', gatewayNamespace: 'n', workers: 1 });
    stop = () => api.close();
    const starting = controller.start();
    await sleep(50);
    await controller.stop();
    await starting;
    for (let i = 0; i < 50 && api.watching.size > 0; i++) await sleep(20);
    expect(api.watching.size).toBe(0);
  });
});
