// A controller on an API server that does not serve the WarmPool kind (its
// CRD not installed: `helm upgrade` installs no new CRD) still syncs and
// runs Functions; it only has no pools. The API server here is a loopback
// stand-in that lists every other kind empty, holds watches open, and
// answers 404 for warmpools, as a real one does for a kind it does not know.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import { defaultImages } from '../../src/controller/resources/images.js';

async function fakeApiServer(servesPools: boolean) {
  const asked: string[] = [];
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
      return; // held open until the client goes
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
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
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a controller without the WarmPool kind', () => {
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
});
