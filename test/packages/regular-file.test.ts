import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PackageError } from '../../src/packages/errors.js';
import { loadPackage } from '../../src/packages/source.js';
import { readRegularFile } from '../../src/packages/regular-file.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-regular-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readRegularFile', () => {
  writeFileSync(join(dir, 'ok.zip'), 'bytes');
  writeFileSync(join(dir, 'big.zip'), Buffer.alloc(2000));
  execFileSync('mkfifo', [join(dir, 'fifo.zip')]);
  symlinkSync('/dev/zero', join(dir, 'zero.zip'));
  symlinkSync('fifo.zip', join(dir, 'to-fifo.zip'));

  it('reads a regular file', async () => {
    expect((await readRegularFile(join(dir, 'ok.zip'), 100)).toString()).toBe('bytes');
  });

  it.each([
    ['fifo.zip', 'special-file', 'is a FIFO, not a regular file'],
    ['to-fifo.zip', 'special-file', 'is a FIFO, not a regular file'],
    ['zero.zip', 'special-file', 'is a character device, not a regular file'],
    ['.', 'special-file', 'is a directory'],
    ['missing.zip', 'unavailable', 'does not exist'],
    ['big.zip', 'zipped-too-large', 'the limit is 1000 bytes zipped'],
  ])('refuses %s at once (%s)', async (name, reason, text) => {
    const err = await readRegularFile(join(dir, name), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as PackageError).reason).toBe(reason);
    expect((err as PackageError).message).toContain(text);
  });

  it('is what the platform reads code.package.path and layers[].path with', async () => {
    const err = await loadPackage({ path: 'fifo.zip' }, { baseDir: dir }).catch((e: unknown) => e);
    expect((err as PackageError).reason).toBe('special-file');
  });
});
