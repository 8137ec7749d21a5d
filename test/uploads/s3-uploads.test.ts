// S3Uploads against a real S3-compatible store (versitygw on loopback):
// the backend contract, signed PUT and GET path-style, the bucket and prefix
// it writes under, and the store's refusals (wrong secret, missing bucket)
// surfacing as errors rather than as a missing package.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/packages/digest.js';
import { encodeKeyPath, S3StoreError, S3Uploads, type S3UploadsOptions } from '../../src/uploads/s3-uploads.js';
import { backendContract } from './backend-contract.js';
import { buildVersitygw, startVersitygw, type Versitygw } from './versitygw.js';

// Built before the suite is collected: make test-unit started the build beside the other suites; this waits for it.
const built = await buildVersitygw();

describe.skipIf('skip' in built)(`S3Uploads on versitygw${'skip' in built ? ` (skipped: ${built.skip})` : ''}`, () => {
  let store: Versitygw;
  let opts: S3UploadsOptions;
  let backend: S3Uploads;
  const opened: S3Uploads[] = [];
  const open = (o: Partial<S3UploadsOptions> = {}): S3Uploads => {
    const b = new S3Uploads({ ...opts, ...o });
    opened.push(b);
    return b;
  };
  beforeAll(async () => {
    if (!('bin' in built)) return;
    store = await startVersitygw(built.bin);
    opts = {
      endpoint: store.endpoint,
      bucket: 'hearth-packages',
      region: 'us-east-1',
      prefix: 'releases/r1/',
      credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
    };
    backend = open();
    await backend.createBucket();
  });
  afterAll(async () => {
    for (const b of opened) await b.close();
    await store?.stop();
  });

  backendContract(() => ({
    backend: () => backend,
    reopen: async () => {
      await store.restart();
      return open();
    },
  }));

  it('stores each package as the object <prefix><sha256>.zip of the bucket', async () => {
    const bytes = Buffer.from('an object');
    const digest = sha256(bytes);
    await backend.put(digest, bytes);
    expect(backend.objectKey(digest)).toBe(`releases/r1/${digest}.zip`);
    // versitygw's posix backend keeps an object as a file at bucket/key.
    expect(readFileSync(join(store.dir, 'hearth-packages', 'releases', 'r1', `${digest}.zip`)).equals(bytes)).toBe(true);
    expect(backend.describe).toBe(`s3 ${store.endpoint}/hearth-packages/releases/r1/`);
  });

  it('refuses a wrong secret with the store\'s error, for a put and for a get', async () => {
    const wrong = open({ credentials: { accessKeyId: store.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const bytes = Buffer.from('x');
    const put = wrong.put(sha256(bytes), bytes);
    await expect(put).rejects.toBeInstanceOf(S3StoreError);
    await expect(put).rejects.toMatchObject({ status: 403 });
    await expect(wrong.get(sha256(bytes))).rejects.toMatchObject({ status: 403 });
  });

  it('reports a missing bucket as an error, not as a missing package', async () => {
    const missing = open({ bucket: 'no-such-bucket' });
    await expect(missing.get('c'.repeat(64))).rejects.toMatchObject({ code: 'NoSuchBucket' });
  });

  it('signs keys whose prefix needs encoding', async () => {
    const odd = open({ prefix: 'with space/and+plus(1)/' });
    const bytes = Buffer.from('odd prefix');
    const digest = sha256(bytes);
    await odd.put(digest, bytes);
    expect((await odd.get(digest))?.equals(bytes)).toBe(true);
    expect(encodeKeyPath('with space/and+plus(1)/x')).toBe('with%20space/and%2Bplus%281%29/x');
  });
});
