// Uploaded packages of the embedded platform: files under the functions
// directory, <dir>/.hearth/packages/<sha256>.zip, which a Function there names
// by the relative path `.hearth/packages/<sha256>.zip` (resolved against the
// Function file's directory, as every package.path is). The leading dot keeps
// the directory watcher away; each file appears whole, written under a
// temporary name and renamed, so a reader never sees half a package.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UploadBackend } from './uploads.js';
import { isSha256 } from './signed-url.js';

/** Where the packages sit, relative to the functions directory (POSIX separators: it is written into Functions). */
export const PACKAGES_DIR = '.hearth/packages';

/** The package.path a Function in the functions directory names an upload by. */
export function uploadPath(sha256: string): string {
  return `${PACKAGES_DIR}/${sha256}.zip`;
}

export class DirectoryUploads implements UploadBackend {
  readonly describe: string;
  readonly #dir: string;

  /** `functionsDir`: the directory the embedded platform loads Functions from. */
  constructor(functionsDir: string) {
    this.#dir = join(functionsDir, ...PACKAGES_DIR.split('/'));
    this.describe = `directory ${this.#dir}`;
  }

  #file(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a SHA-256 digest: ${sha256}`);
    return join(this.#dir, `${sha256}.zip`);
  }

  async put(sha256: string, bytes: Buffer): Promise<void> {
    const file = this.#file(sha256);
    // Content-addressed: a file of that name already holds these bytes.
    if (await exists(file)) return;
    await mkdir(this.#dir, { recursive: true });
    const tmp = join(this.#dir, `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, bytes, { mode: 0o644 });
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    return isSha256(sha256) ? fileSize(this.#file(sha256)) : undefined;
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    if (!isSha256(sha256)) return undefined;
    try {
      return await readFile(this.#file(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return (await fileSize(file)) !== undefined;
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    const st = await stat(file);
    return st.isFile() ? st.size : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
