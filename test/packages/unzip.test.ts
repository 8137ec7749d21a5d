import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PackageError, type Refusal } from '../../src/packages/errors.js';
import { LAMBDA_LIMITS } from '../../src/packages/limits.js';
import { unzipInto } from '../../src/packages/unzip.js';
import { zipBytes, type RawEntry } from './zip-bytes.js';

let sandbox: string;
let root: string;

beforeEach(async () => {
  // The task root sits alone inside a sandbox: anything written outside it shows up there.
  sandbox = await mkdtemp(join(tmpdir(), 'hearth-unzip-'));
  root = join(sandbox, 'task');
});
afterEach(async () => {
  await rm(sandbox, { recursive: true, force: true });
});

async function refused(entries: RawEntry[] | Buffer, reason: Refusal, limits = LAMBDA_LIMITS): Promise<PackageError> {
  const zip = Buffer.isBuffer(entries) ? entries : zipBytes(entries);
  const err = await unzipInto(zip, root, { label: 'evil.zip', limits }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PackageError);
  const pe = err as PackageError;
  expect(pe.reason).toBe(reason);
  expect(pe.message).toContain(`(${reason})`);
  expect(pe.message).toContain('evil.zip');
  // Nothing escaped: the sandbox holds only the task root.
  expect(await readdir(sandbox)).toEqual(['task']);
  return pe;
}

describe('unzipInto', () => {
  it('unpacks files, directories, executable bits and links that stay inside', async () => {
    const zip = zipBytes([
      { name: 'app.py', data: 'print(1)\n' },
      { name: 'bin/', mode: 0o040755 },
      { name: 'bin/tool', data: '#!/bin/sh\necho hi\n', mode: 0o100755 },
      { name: 'lib/libfoo.so.1', data: 'elf', store: true },
      { name: 'lib/libfoo.so', data: 'libfoo.so.1', mode: 0o120777 },
      { name: 'setuid', data: 'x', mode: 0o104777 },
    ]);
    const stats = await unzipInto(zip, root);
    expect(stats).toMatchObject({ files: 4, symlinks: 1 });
    expect(await readFile(join(root, 'app.py'), 'utf8')).toBe('print(1)\n');
    expect((await stat(join(root, 'bin/tool'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(root, 'app.py'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(root, 'setuid'))).mode & 0o7777).toBe(0o755);
    expect(await readlink(join(root, 'lib/libfoo.so'))).toBe('libfoo.so.1');
    expect(await readFile(join(root, 'lib/libfoo.so'), 'utf8')).toBe('elf');
  });

  it('refuses a ../ entry', async () => {
    const e = await refused([{ name: 'ok.txt', data: 'x' }, { name: '../evil.txt', data: 'pwned' }], 'path-traversal');
    expect(e.message).toContain('../evil.txt');
  });

  it('refuses a nested ../ entry and a backslash one', async () => {
    await refused([{ name: 'a/b/../../../evil.txt', data: 'pwned' }], 'path-traversal');
    await refused([{ name: '..\\evil.txt', data: 'pwned' }], 'path-traversal');
  });

  it('refuses an absolute path and a drive letter', async () => {
    const e = await refused([{ name: '/tmp/evil.txt', data: 'pwned' }], 'absolute-path');
    expect(e.message).toContain('/tmp/evil.txt');
    await refused([{ name: 'C:\\evil.txt', data: 'pwned' }], 'absolute-path');
  });

  it('refuses a symlink out of the task root', async () => {
    const e = await refused([{ name: 'passwd', data: '../../../../etc/passwd', mode: 0o120777 }], 'symlink-escape');
    expect(e.message).toContain('passwd');
    await refused([{ name: 'abs', data: '/etc/passwd', mode: 0o120777 }], 'symlink-escape');
  });

  it('refuses a file written through a symlink in the archive', async () => {
    await refused([{ name: 'd', data: 'sub', mode: 0o120777 }, { name: 'sub/', mode: 0o040755 }, { name: 'd/x', data: 'x' }], 'symlink-in-path');
  });

  it('refuses links that escape only by chaining through each other', async () => {
    // Each target looks inside by its text, but s/.. is the root's parent once s -> . is followed.
    await refused([{ name: 's', data: '.', mode: 0o120777 }, { name: 't', data: 's/../..', mode: 0o120777 }], 'symlink-escape');
    await refused([{ name: 's', data: '.', mode: 0o120777 }, { name: 's/t', data: '..', mode: 0o120777 }], 'symlink-in-path');
  });

  it('refuses a zip bomb past the unzipped limit, reading its declared sizes', async () => {
    const size = LAMBDA_LIMITS.unzippedBytes + 1024 * 1024;
    const zeros = Buffer.alloc(size);
    const bomb = { bytes: deflateRawSync(zeros, { level: 9 }), size, crc: crc32(zeros) };
    expect(bomb.bytes.length).toBeLessThan(1024 * 1024);
    const e = await refused([{ name: 'bomb.bin', deflated: bomb }], 'unzipped-too-large');
    expect(e.message).toContain(String(LAMBDA_LIMITS.unzippedBytes));
  });

  it('refuses a zip bomb whose header lies about its size, counting the bytes it inflates', async () => {
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const bomb = { bytes: deflateRawSync(zeros), size: 100, crc: crc32(zeros) };
    await refused([{ name: 'liar.bin', deflated: bomb }], 'unzipped-too-large');
    expect((await stat(join(root, 'liar.bin')).catch(() => undefined))?.size ?? 0).toBeLessThan(1024 * 1024);
  });

  it('counts the bytes of all entries against the limit', async () => {
    const small = { ...LAMBDA_LIMITS, unzippedBytes: 1000 };
    await refused(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: Buffer.alloc(300, 1) })), 'unzipped-too-large', small);
  });

  it('refuses too many entries and too large an archive', async () => {
    await refused(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, data: '' })), 'too-many-entries', { ...LAMBDA_LIMITS, entries: 10 });
    await refused([{ name: 'big', data: Buffer.alloc(5000, 7), store: true }], 'zipped-too-large', { ...LAMBDA_LIMITS, zippedBytes: 4096 });
  });

  it('refuses what is not a ZIP file', async () => {
    await refused(Buffer.from('definitely not a zip file, just some text that is long enough'), 'not-a-zip');
  });

  it('refuses two entries with one name, even spelled differently', async () => {
    const e = await refused([{ name: 'app.py', data: 'reviewed' }, { name: 'app.py', data: 'unseen' }], 'duplicate-entry');
    expect(e.message).toContain('app.py appears more than once');
    await refused([{ name: 'lib/a.py', data: '1' }, { name: './lib//a.py', data: '2' }], 'duplicate-entry');
    await refused([{ name: 'x', data: 'a.py', mode: 0o120777 }, { name: 'x', data: '1' }], 'duplicate-entry');
  });

  it('refuses over-long names with a reason, not ENAMETOOLONG', async () => {
    const e = await refused([{ name: `${'n'.repeat(300)}.py`, data: 'x' }], 'name-too-long');
    expect(e.message).toContain('the limit is 255 bytes');
    // 255 bytes of UTF-8, not 255 characters: 128 two-byte letters are 256 bytes.
    await refused([{ name: 'é'.repeat(128), data: 'x' }], 'name-too-long');
    await refused([{ name: `${Array.from({ length: 11 }, () => 'd'.repeat(100)).join('/')}/x`, data: 'x' }], 'name-too-long');
  });

  it('refuses FIFOs, devices and sockets', async () => {
    for (const [mode, what] of [[0o010644, 'a FIFO'], [0o020644, 'a character device'], [0o060644, 'a block device'], [0o140644, 'a socket']] as const) {
      const e = await refused([{ name: 'ok.py', data: 'x' }, { name: 'special', mode }], 'special-file');
      expect(e.message).toContain(`special is ${what}`);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('unpacks archives in turn: later files replace earlier ones and links, never through them', async () => {
    await unzipInto(zipBytes([{ name: 'python/a.py', data: 'A1' }, { name: 'python/link.py', data: 'a.py', mode: 0o120777 }]), root);
    await unzipInto(zipBytes([{ name: 'python/a.py', data: 'A2' }, { name: 'python/link.py', data: 'replaced' }]), root);
    expect(await readFile(join(root, 'python/a.py'), 'utf8')).toBe('A2');
    expect((await lstat(join(root, 'python/link.py'))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(root, 'python/link.py'), 'utf8')).toBe('replaced');
  });
});
