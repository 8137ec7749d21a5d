// The cluster's uploads end to end on loopback: `hearth gateway`'s package
// flags and environment parsed, a ZipFile stored in a real Redis, named by a
// signed URL under the gateway's Service URL, and fetched back through
// GET /packages/SHA256 by the code the controller's agents load package URLs
// with (src/packages/source.ts), digest checked.
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_OPTIONS, packageSettings, S3_ACCESS_KEY_ENV, S3_SECRET_KEY_ENV } from '../../src/cli/package-flags.js';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import packagesRoute from '../../src/gateway/plugins/packages.js';
import { loadPackage } from '../../src/packages/source.js';
import { openClusterUploads, type ClusterPackages } from '../../src/uploads/cluster-uploads.js';
import { SIGNING_KEY_ENV } from '../../src/uploads/signing-key.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { zipBytes } from '../packages/zip-bytes.js';

const KEY = 'k'.repeat(40);
const BASE = 'http://r-hearth-gateway.ns.svc:80';

describe('packageSettings (hearth gateway --packages, --package-url-base, HEARTH_PACKAGE_SIGNING_KEY)', () => {
  const env = { [SIGNING_KEY_ENV]: KEY, [S3_ACCESS_KEY_ENV]: 'AK', [S3_SECRET_KEY_ENV]: 'SK' };
  const s3 = ['--packages=s3', '--packages-s3-endpoint=http://minio:9000', '--packages-s3-bucket=pk', `--package-url-base=${BASE}`];
  const cases: Array<[string, string[], NodeJS.ProcessEnv, unknown]> = [
    ['no URL base: uploads off', [], env, undefined],
    ['redis (the default) with a URL base and key', [`--package-url-base=${BASE}`], env, { store: { kind: 'redis' }, packageUrlBase: BASE, signingKey: Buffer.from(KEY) }],
    ['redis named', ['--packages=redis', `--package-url-base=${BASE}`], env, { store: { kind: 'redis' }, packageUrlBase: BASE, signingKey: Buffer.from(KEY) }],
    ['s3 with everything', [...s3, '--packages-s3-region=eu-west-1', '--packages-s3-prefix=hearth/'], env, {
      store: { kind: 's3', s3: { endpoint: 'http://minio:9000', bucket: 'pk', region: 'eu-west-1', prefix: 'hearth/', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } } },
      packageUrlBase: BASE,
      signingKey: Buffer.from(KEY),
    }],
    ['an unknown store', ['--packages=disk', `--package-url-base=${BASE}`], env, '--packages takes redis or s3, not disk'],
    ['s3 without a URL base', ['--packages=s3'], env, expect.stringContaining('--package-url-base')],
    ['a URL base without the key', [`--package-url-base=${BASE}`], {}, expect.stringContaining(SIGNING_KEY_ENV)],
    ['a short key', [`--package-url-base=${BASE}`], { [SIGNING_KEY_ENV]: 'short' }, expect.stringContaining('at least 32')],
    ['a URL base that is not http', ['--package-url-base=ftp://x'], env, expect.stringContaining('http(s)')],
    ['s3 without a bucket', ['--packages=s3', '--packages-s3-endpoint=http://m', `--package-url-base=${BASE}`], env, expect.stringContaining('--packages-s3-bucket')],
    ['s3 without credentials', s3, { [SIGNING_KEY_ENV]: KEY }, expect.stringContaining(S3_ACCESS_KEY_ENV)],
  ];
  it.each(cases)('%s', (_what, argv, e, want) => {
    expect(packageSettings(parseGatewayArgs(argv), e)).toEqual(want);
  });

  it('are flags hearth gateway takes', () => {
    for (const flag of Object.keys(PACKAGE_OPTIONS)) expect(() => parseGatewayArgs([`--${flag}=x`])).not.toThrow();
  });
});

describe('cluster uploads in Redis, fetched through the packages route', () => {
  let redis: RedisServer;
  let app: FastifyInstance;
  let opened: ReturnType<typeof openClusterUploads>;
  beforeAll(async () => {
    redis = await startRedis({ aof: true });
    app = Fastify();
    // The route's base is only known once it listens; the uploads are opened then, before any request.
    await app.register(packagesRoute, { uploads: { read: (s) => opened.uploads.read(s), grants: (s, q, now) => opened.uploads.grants(s, q, now) } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const settings: ClusterPackages = { store: { kind: 'redis' }, packageUrlBase: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, signingKey: Buffer.from(KEY) };
    opened = openClusterUploads(settings, { url: redis.url }, pino({ level: 'silent' }));
    expect(opened.uploads.describe).toContain('redis');
  });
  afterAll(async () => {
    await opened?.close();
    await app?.close();
    await redis?.stop();
  });

  it('names the upload by a URL the agents can load, digest and all', async () => {
    const zip = zipBytes([{ name: 'app.py', data: 'def handler(e, c):\n    return 1\n' }]);
    // The client connects in the background; the first put may find it still connecting.
    let stored: Awaited<ReturnType<typeof opened.uploads.put>> | undefined;
    for (let i = 0; i < 50 && stored === undefined; i++) {
      stored = await opened.uploads.put(zip).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    expect(stored?.source.url).toMatch(/\/packages\/[a-f0-9]{64}\?expires=0&signature=[a-f0-9]{64}$/);
    const loaded = await loadPackage(stored?.source ?? {});
    expect(loaded?.bytes.equals(zip)).toBe(true);
    expect(stored?.source).toEqual(opened.uploads.source(stored?.sha256 ?? ''));
  });
});
