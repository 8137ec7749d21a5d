// PackageUploads, the Uploads the control-plane API uses: what it refuses
// (the platform's own refusals), how a Function names what it stored
// (embedded: a path under the functions directory; cluster: a signed URL on
// the gateway's in-cluster Service), and the URLs it signs.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/packages/digest.js';
import { isPackageError } from '../../src/packages/errors.js';
import { DirectoryUploads } from '../../src/uploads/directory-uploads.js';
import { PackageUploads } from '../../src/uploads/package-uploads.js';
import { checkGrant } from '../../src/uploads/signed-url.js';
import { directorySigningKey, SIGNING_KEY_FILE, signingKeyFrom } from '../../src/uploads/signing-key.js';
import { zipBytes } from '../packages/zip-bytes.js';

const key = Buffer.from('s'.repeat(48));
const NOW = 1_700_000_000_000;
const zip = zipBytes([{ name: 'app.py', data: 'def handler(e, c):\n    return e\n' }]);
const digest = sha256(zip);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-package-uploads-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const embedded = () => new PackageUploads({ backend: new DirectoryUploads(dir), signingKey: key, naming: { kind: 'path' }, now: () => NOW });
const cluster = () =>
  new PackageUploads({ backend: new DirectoryUploads(dir), signingKey: key, naming: { kind: 'url', packageUrlBase: 'http://r-hearth-gateway.ns.svc:80/' }, now: () => NOW });

describe('PackageUploads.put', () => {
  it('embedded: stores the ZIP and names it by .hearth/packages/SHA.zip with its digest', async () => {
    const stored = await embedded().put(zip);
    expect(stored).toEqual({ sha256: digest, size: zip.length, source: { path: `.hearth/packages/${digest}.zip`, sha256: digest } });
    expect(statSync(join(dir, '.hearth', 'packages', `${digest}.zip`)).size).toBe(zip.length);
    expect((await embedded().read(digest))?.equals(zip)).toBe(true);
  });

  it('cluster: names it by a URL on the gateway\'s Service, signed never to expire', async () => {
    const stored = await cluster().put(zip);
    const u = new URL(stored.source.url ?? '');
    expect(`${u.origin}${u.pathname}`).toBe(`http://r-hearth-gateway.ns.svc/packages/${digest}`);
    expect(u.searchParams.get('expires')).toBe('0');
    expect(stored.source.sha256).toBe(digest);
    // Still granted a year later.
    expect(checkGrant(key, digest, Object.fromEntries(u.searchParams), NOW + 365 * 86_400_000)).toEqual({ ok: true });
  });

  it.each([
    ['bytes that are not a ZIP', Buffer.from('not a zip at all'), 'not-a-zip'],
    ['an entry that climbs out', zipBytes([{ name: '../evil.py', data: 'x' }]), 'path-traversal'],
    ['an absolute entry', zipBytes([{ name: '/etc/passwd', data: 'x' }]), 'absolute-path'],
  ])('refuses %s with the platform\'s reason', async (_what, bytes, reason) => {
    const err: unknown = await embedded().put(bytes).catch((e: unknown) => e);
    expect(isPackageError(err, reason as never), String(err)).toBe(true);
    expect(await embedded().read(sha256(bytes))).toBeUndefined();
  });

  it('refuses more than the zipped limit before reading it, and more than the unzipped limit once inflated', async () => {
    const limits = { zippedBytes: 1000, unzippedBytes: 10_000, entries: 10 };
    const small = new PackageUploads({ backend: new DirectoryUploads(dir), signingKey: key, naming: { kind: 'path' }, limits });
    const big = zipBytes([{ name: 'noise', data: Buffer.alloc(2000, 1), store: true }]);
    expect(isPackageError(await small.put(big).catch((e: unknown) => e), 'zipped-too-large')).toBe(true);
    const bomb = zipBytes([{ name: 'zeros', data: Buffer.alloc(50_000) }]);
    expect(bomb.length).toBeLessThan(1000);
    expect(isPackageError(await small.put(bomb).catch((e: unknown) => e), 'unzipped-too-large')).toBe(true);
  });
});

describe('PackageUploads.size', () => {
  it('is the stored package\'s bytes, by its digest in either case, from the store when this process did not put it; undefined for no upload', async () => {
    await embedded().put(zip);
    // A new PackageUploads over the same directory, as after a restart: the size comes from the backend.
    expect(await embedded().size(digest)).toBe(zip.length);
    expect(await embedded().size(digest.toUpperCase())).toBe(zip.length);
    expect(await embedded().size(sha256(Buffer.from('never uploaded')))).toBeUndefined();
    expect(await embedded().size('../../etc/passwd')).toBeUndefined();
  });
});

describe('PackageUploads.location', () => {
  it('signs a URL under the base the caller reached that expires after the TTL (600 s by default)', () => {
    const u = new URL(embedded().location(digest, 'http://127.0.0.1:8080/'));
    expect(`${u.origin}${u.pathname}`).toBe(`http://127.0.0.1:8080/packages/${digest}`);
    const q = Object.fromEntries(u.searchParams);
    expect(q.expires).toBe(String(NOW / 1000 + 600));
    expect(embedded().grants(digest, q, NOW + 599_000)).toBe(true);
    expect(embedded().grants(digest, q, NOW + 600_000)).toBe(false);
    const short = Object.fromEntries(new URL(embedded().location(digest, 'http://h', 30)).searchParams);
    expect(embedded().grants(digest, short, NOW + 31_000)).toBe(false);
  });
});

describe('signing keys', () => {
  it('the functions directory\'s key is made when first needed, once, 0600, and read back the same by the next start', async () => {
    const d = mkdtempSync(join(tmpdir(), 'hearth-signing-key-'));
    try {
      const [a, b] = await Promise.all([directorySigningKey(d), directorySigningKey(d)]);
      // Nothing written until a URL is signed or checked.
      expect(existsSync(join(d, SIGNING_KEY_FILE))).toBe(false);
      expect(a().equals(b())).toBe(true);
      expect(a().length).toBe(64);
      expect(statSync(join(d, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
      expect(readdirSync(join(d, '.hearth'))).toEqual(['signing-key']);
      expect((await directorySigningKey(d))().equals(a())).toBe(true);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a key given as text must be at least 32 characters', () => {
    expect(() => signingKeyFrom('short', 'HEARTH_PACKAGE_SIGNING_KEY')).toThrow(/at least 32/);
    expect(signingKeyFrom(` ${'k'.repeat(32)}\n`, 'env').toString()).toBe('k'.repeat(32));
    expect(() => new PackageUploads({ backend: new DirectoryUploads(dir), signingKey: Buffer.from('short'), naming: { kind: 'path' } })).toThrow(/at least 32/);
  });
});
