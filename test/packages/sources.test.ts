// Where package bytes come from: a URL (served here from 127.0.0.1), a file
// beside the Function, a local ConfigMap; digests checked before unpacking.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfigObject } from '../../src/api/config-objects.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { sha256 } from '../../src/packages/digest.js';
import { PackageError } from '../../src/packages/errors.js';
import { LAMBDA_LIMITS } from '../../src/packages/limits.js';
import { loadPackage } from '../../src/packages/source.js';
import { formatSourceRef, parseSourceRef } from '../../src/packages/source-ref.js';
import { PackageStore } from '../../src/packages/store.js';
import { zipBytes } from './zip-bytes.js';

const zip = zipBytes([{ name: 'app.py', data: 'x = 1\n' }]);
const digest = sha256(zip);
let server: Server;
let base: string;
let dir: string;
let hits = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-sources-'));
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/fn.zip') res.end(zip);
    else if (req.url === '/moved') res.writeHead(302, { location: '/fn.zip' }).end();
    else if (req.url === '/huge') {
      // No content-length: the cap must hold while streaming.
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      const chunk = Buffer.alloc(1024 * 1024);
      let n = 0;
      const pump = (): void => {
        while (n < 80 && res.write(chunk)) n++;
        if (n < 80) res.once('drain', pump);
        else res.end();
      };
      res.on('error', () => undefined);
      pump();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function reason(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PackageError);
  return (err as PackageError).reason;
}

describe('loadPackage', () => {
  it('downloads a URL source, following a redirect, and checks its digest', async () => {
    const pkg = await loadPackage({ url: `${base}/moved`, sha256: digest });
    expect(pkg?.sha256).toBe(digest);
    expect(pkg?.bytes.equals(zip)).toBe(true);
  });

  it('refuses a wrong digest, a missing file and an oversized download', async () => {
    expect(await reason(loadPackage({ url: `${base}/fn.zip`, sha256: '0'.repeat(64) }))).toBe('digest-mismatch');
    expect(await reason(loadPackage({ url: `${base}/nope.zip`, sha256: digest }))).toBe('unavailable');
    expect(await reason(loadPackage({ url: `${base}/huge`, sha256: digest }))).toBe('zipped-too-large');
  });

  it('reads a path relative to the Function file, and a ConfigMap\'s binaryData from the object store', async () => {
    writeFileSync(join(dir, 'fn.zip'), zip);
    expect((await loadPackage({ path: 'fn.zip', sha256: digest }, { baseDir: dir }))?.sha256).toBe(digest);
    expect(await reason(loadPackage({ path: 'fn.zip', sha256: 'a'.repeat(64) }, { baseDir: dir }))).toBe('digest-mismatch');
    expect(await reason(loadPackage({ path: 'absent.zip' }, { baseDir: dir }))).toBe('unavailable');
    const objects = new ObjectStore('here');
    const cm = validateConfigObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pkgs' }, binaryData: { 'fn.zip': zip.toString('base64') } });
    if (!cm.ok) throw new Error('invalid ConfigMap');
    objects.replace([cm.value]);
    expect((await loadPackage({ configMap: { name: 'pkgs', key: 'fn.zip' } }, { objects }))?.sha256).toBe(digest);
    expect(await loadPackage({ configMap: { name: 'other', key: 'fn.zip', optional: true } }, { objects })).toBeUndefined();
    expect(await reason(loadPackage({ configMap: { name: 'other', key: 'fn.zip' } }, { objects }))).toBe('unavailable');
    await expect(loadPackage({ configMap: { name: 'pkgs', key: 'x.zip' } }, { objects })).rejects.toThrow('ConfigMap pkgs key x.zip: ConfigMap pkgs has no key x.zip (its keys: fn.zip)');
  });
});

describe('PackageStore', () => {
  it('unpacks once per digest and leaves nothing behind for a refused archive', async () => {
    const store = new PackageStore(join(dir, 'store'));
    const pkg = { bytes: zip, sha256: digest, label: 'fn.zip' };
    const [a, b] = await Promise.all([store.taskRoot(pkg), store.taskRoot(pkg)]);
    expect(a).toBe(b);
    expect(store.cachedTaskRoot(digest)).toBe(a);
    const evil = zipBytes([{ name: 'ok', data: 'x' }, { name: '../../x', data: 'y' }]);
    await expect(store.taskRoot({ bytes: evil, sha256: sha256(evil), label: 'evil.zip' })).rejects.toThrow(/path-traversal/);
    expect(readdirSync(join(dir, 'store', 'task'))).toEqual([digest]);
  });

  it('lays layers over each other in order', async () => {
    const store = new PackageStore(join(dir, 'store'), { ...LAMBDA_LIMITS, unzippedBytes: 10 });
    const l1 = zipBytes([{ name: 'python/m.py', data: 'one' }]);
    const l2 = zipBytes([{ name: 'python/m.py', data: 'two' }]);
    const opt = await store.optDir([
      { bytes: l1, sha256: sha256(l1), label: 'l1' },
      { bytes: l2, sha256: sha256(l2), label: 'l2' },
    ]);
    expect(readdirSync(join(opt, 'python'))).toEqual(['m.py']);
    // Both layers count against one unzipped limit, as on Lambda.
    const l3 = zipBytes([{ name: 'big', data: 'eightchr' }]);
    await expect(store.optDir([{ bytes: l3, sha256: sha256(l3), label: 'l3' }, { bytes: l2, sha256: sha256(l2), label: 'l2' }])).rejects.toThrow(/unzipped-too-large/);
  });
});

describe('source references', () => {
  it('reads paths and URLs with a #sha256= suffix', () => {
    const h = 'ab'.repeat(32);
    expect(parseSourceRef(`/x/p.zip#sha256=${h}`)).toEqual({ path: '/x/p.zip', sha256: h });
    expect(parseSourceRef('p.zip')).toEqual({ path: 'p.zip' });
    expect(parseSourceRef(`https://e.com/l.zip#sha256=${h.toUpperCase()}`)).toEqual({ url: 'https://e.com/l.zip', sha256: h });
    expect(() => parseSourceRef('https://e.com/l.zip')).toThrow(/digest/);
    expect(() => parseSourceRef('s3://b/k.zip')).toThrow(/only paths/);
    expect(parseSourceRef(formatSourceRef('a.zip', h))).toEqual({ path: 'a.zip', sha256: h });
  });
});

it('serves the test server only on loopback', () => {
  expect(base.startsWith('http://127.0.0.1:')).toBe(true);
  expect(hits).toBeGreaterThan(0);
});
