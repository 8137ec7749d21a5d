// `hearth gateway` in a cluster with uploads on, as the chart starts it
// (--packages redis, --package-url-base, HEARTH_PACKAGE_SIGNING_KEY): a
// package in its Redis is served at GET /packages/SHA256 for a URL signed
// with its key, refused without one, and 404 for a signed unknown digest.
import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageSettings } from '../../src/cli/package-flags.js';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import { sha256 } from '../../src/packages/digest.js';
import { startClusterGateway, type ClusterGateway } from '../../src/platform/cluster.js';
import { createRedisClient, type RedisClient } from '../../src/queue/redis.js';
import { RedisUploads } from '../../src/uploads/redis-uploads.js';
import { signedQuery } from '../../src/uploads/signed-url.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { zipBytes } from '../packages/zip-bytes.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const KEY = randomBytes(32).toString('hex');

if (!ctx.available) {
  describe.skip(`hearth gateway with uploads (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('hearth gateway with uploads in its Redis', () => {
    const ns = `pk-${randomBytes(3).toString('hex')}`;
    let redis: RedisServer;
    let client: RedisClient;
    let gateway: ClusterGateway;
    let core: CoreV1Api;

    beforeAll(async () => {
      const kc = kubeConfigFor(ctx);
      core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: ns } } });
      redis = await startRedis({ aof: true });
      client = createRedisClient({ url: redis.url });
      const packages = packageSettings(parseGatewayArgs(['--packages=redis', `--package-url-base=http://hearth-gateway.${ns}.svc:80`]), { HEARTH_PACKAGE_SIGNING_KEY: KEY });
      if (packages === undefined || typeof packages === 'string') throw new Error(`packages: ${String(packages)}`);
      gateway = await startClusterGateway({ kubeConfig: kc, namespace: ns, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), redis: { url: redis.url }, leaderElect: false, packages });
    }, 60_000);

    afterAll(async () => {
      await gateway?.close();
      client?.disconnect();
      await redis?.stop();
      await core?.deleteNamespace({ name: ns }).catch(() => undefined);
    });

    it('serves a stored package for a URL signed with its key, and refuses or misses the rest', async () => {
      const zip = zipBytes([{ name: 'app.py', data: 'def handler(e, c):\n    return 1\n' }]);
      const digest = sha256(zip);
      if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
      await new RedisUploads({ redis: client }).put(digest, zip);
      const key = Buffer.from(KEY);
      const ok = await fetch(`${gateway.url}/packages/${digest}?${signedQuery(key, digest, 0)}`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe('application/zip');
      expect(Buffer.from(await ok.arrayBuffer()).equals(zip)).toBe(true);
      const otherKey = await fetch(`${gateway.url}/packages/${digest}?${signedQuery(Buffer.from('x'.repeat(64)), digest, 0)}`);
      expect([otherKey.status, otherKey.headers.get('x-amzn-errortype')]).toEqual([403, 'AccessDeniedException']);
      const unknown = sha256(Buffer.from('nothing'));
      expect((await fetch(`${gateway.url}/packages/${unknown}?${signedQuery(key, unknown, 0)}`)).status).toBe(404);
    });
  });
}
