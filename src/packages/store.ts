// Unpacked packages on local disk, one directory per content: a task root per
// package digest, and an /opt stand-in per ordered list of layer digests.
// Each is unpacked into a temporary directory beside its final name and
// renamed into place only once complete and checked, so a crash, a refused
// archive or a second Hearth on the same cache never leaves half a directory
// where a runtime could find it.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedPackage } from './source.js';
import { LAMBDA_LIMITS, type PackageLimits } from './limits.js';
import { unzipInto } from './unzip.js';

export class PackageStore {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    readonly dir: string,
    private readonly limits: PackageLimits = LAMBDA_LIMITS,
  ) {}

  /** The task root of a package already unpacked under this digest, if any. */
  cachedTaskRoot(sha256: string): string | undefined {
    const dir = join(this.dir, 'task', sha256);
    return existsSync(dir) ? dir : undefined;
  }

  taskRoot(pkg: LoadedPackage): Promise<string> {
    return this.once(join(this.dir, 'task', pkg.sha256), async (tmp) => {
      await unzipInto(pkg.bytes, tmp, { limits: this.limits, label: pkg.label });
    });
  }

  /** Layers unpacked in order into one directory; later layers replace earlier files, as under /opt. */
  optDir(layers: readonly LoadedPackage[]): Promise<string> {
    const key = createHash('sha256').update(layers.map((l) => l.sha256).join('\n')).digest('hex');
    return this.once(join(this.dir, 'opt', key), async (tmp) => {
      let unpacked = 0;
      for (const l of layers) {
        const stats = await unzipInto(l.bytes, tmp, { limits: this.limits, label: l.label, alreadyUnpacked: unpacked });
        unpacked += stats.bytes;
      }
    });
  }

  private once(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
    let p = this.pending.get(dir);
    if (p === undefined) {
      p = this.fillOnce(dir, fill).finally(() => this.pending.delete(dir));
      this.pending.set(dir, p);
    }
    return p;
  }

  private async fillOnce(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
    if (existsSync(dir)) return dir;
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      await fill(tmp);
      await rename(tmp, dir).catch((err: unknown) => {
        // Another process finished the same content first: theirs is as good as ours.
        if (!existsSync(dir)) throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return dir;
  }
}
