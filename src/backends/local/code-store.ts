// Function code on local disk: inline (or ConfigMap) files written once per content hash
// into a task directory (LAMBDA_TASK_ROOT), and Go sources built once per
// hash. Both are written to a temporary name and renamed, so a crash or a
// second Hearth on the same cache never sees half a directory.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function codeHash(files: Readonly<Record<string, string | Uint8Array>>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    h.update(name).update('\0').update(files[name] ?? '').update('\0');
  }
  return h.digest('hex').slice(0, 32);
}

export class CodeStore {
  private readonly builds = new Map<string, Promise<string>>();

  constructor(
    readonly cacheDir: string,
    private readonly goBuildScript: string,
  ) {}

  /** The task directory holding exactly these files. */
  async materialise(files: Readonly<Record<string, string | Uint8Array>>): Promise<string> {
    const dir = join(this.cacheDir, 'code', codeHash(files));
    if (existsSync(dir)) return dir;
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    // File names were validated by the schema (no slashes), so they stay inside the directory.
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(tmp, name), text)));
    try {
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err;
    }
    return dir;
  }

  /** Path of the built `bootstrap` for these Go sources; concurrent calls for one hash share a build. */
  buildGo(files: Readonly<Record<string, string | Uint8Array>>): Promise<string> {
    return this.sharedBuild(codeHash(files), () => this.materialise(files));
  }

  /** As buildGo, for sources already on disk (an unpacked package), identified by the package's digest. */
  buildGoDir(srcDir: string, digest: string): Promise<string> {
    return this.sharedBuild(`pkg-${digest.slice(0, 32)}`, () => Promise.resolve(srcDir));
  }

  private sharedBuild(hash: string, source: () => Promise<string>): Promise<string> {
    let build = this.builds.get(hash);
    if (build === undefined) {
      build = this.runGoBuild(hash, source);
      this.builds.set(hash, build);
      // A failed build may be retried by the next deploy.
      build.catch(() => this.builds.delete(hash));
    }
    return build;
  }

  private async runGoBuild(hash: string, source: () => Promise<string>): Promise<string> {
    const out = join(this.cacheDir, 'go', hash);
    const bin = join(out, 'bootstrap');
    if (existsSync(bin)) return bin;
    if (!existsSync(this.goBuildScript)) throw new Error(`the go runtime is not available here: ${this.goBuildScript} does not exist`);
    const src = await source();
    const tmp = `${out}.tmp-${randomBytes(4).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      await run(this.goBuildScript, [src, tmp]);
      if (!existsSync(join(tmp, 'bootstrap'))) throw new Error(`${this.goBuildScript} produced no bootstrap`);
      await rename(tmp, out).catch(async (err: unknown) => {
        if (!existsSync(bin)) throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return bin;
  }
}

/** Builds run with the host's environment: they need its Go toolchain, caches and proxy settings. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (c: Buffer): void => {
      output = (output + c.toString('utf8')).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`go build failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}
