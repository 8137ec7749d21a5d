// The key package URLs are signed with. Under `hearth up` it is made once and
// kept in the functions directory (.hearth/signing-key, readable by its owner
// only), so URLs written into Functions stay valid across restarts; in a
// cluster it comes from the chart's Secret through HEARTH_PACKAGE_SIGNING_KEY,
// the same for every gateway replica.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIN_SIGNING_KEY_BYTES } from './package-uploads.js';

export const SIGNING_KEY_FILE = join('.hearth', 'signing-key');
export const SIGNING_KEY_ENV = 'HEARTH_PACKAGE_SIGNING_KEY';

/** The key as text (what the file and the environment variable hold): its UTF-8 bytes, at least 32 of them. */
export function signingKeyFrom(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'utf8');
  if (key.length < MIN_SIGNING_KEY_BYTES) throw new Error(`${where}: the package signing key must be at least ${MIN_SIGNING_KEY_BYTES} characters`);
  return key;
}

/**
 * The functions directory's key: read if it exists, otherwise made the first
 * time a URL is signed or checked (64 hex characters, mode 0600), so a plain
 * `hearth up` leaves no secret in a directory that may be a Git checkout.
 */
export async function directorySigningKey(functionsDir: string): Promise<() => Buffer> {
  const file = join(functionsDir, SIGNING_KEY_FILE);
  let key: Buffer | undefined;
  try {
    key = signingKeyFrom(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return () => (key ??= makeKeyFile(functionsDir, file));
}

/** Synchronous, once per process: signing happens inside request handlers that return at once. */
function makeKeyFile(functionsDir: string, file: string): Buffer {
  mkdirSync(join(functionsDir, '.hearth'), { recursive: true });
  // Written whole under another name, then linked into place: of two processes starting at once, one key wins and both read it.
  const tmp = join(functionsDir, '.hearth', `.signing-key.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return signingKeyFrom(readFileSync(file, 'utf8'), file);
}
