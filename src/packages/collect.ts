// The files `hearth package DIR` puts in a deployment package: everything
// under DIR in a stable order (so the same tree always gives the same bytes
// and digest), with executable bits and symlinks that stay inside DIR.
// Version-control metadata is left out.
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { linkTargetInside } from './entry-name.js';
import { LAMBDA_LIMITS, type PackageLimits } from './limits.js';

export type PackEntry =
  | { kind: 'file'; name: string; path: string; mode: number; size: number }
  | { kind: 'directory'; name: string }
  | { kind: 'symlink'; name: string; target: string };

const SKIPPED = new Set(['.git', '.hg', '.svn']);

export async function collectTree(dir: string, opts: { exclude?: readonly string[]; limits?: PackageLimits } = {}): Promise<PackEntry[]> {
  const limits = opts.limits ?? LAMBDA_LIMITS;
  const root = resolve(dir);
  const realRoot = await realpath(root);
  const excluded = new Set((opts.exclude ?? []).map((p) => resolve(p)));
  const out: PackEntry[] = [];
  let total = 0;
  const walk = async (abs: string): Promise<void> => {
    const names = (await readdir(abs)).sort();
    for (const n of names) {
      const path = join(abs, n);
      if (SKIPPED.has(n) || excluded.has(path)) continue;
      const name = relative(root, path).split(sep).join('/');
      const st = await lstat(path);
      if (st.isSymbolicLink()) {
        const target = await readlink(path);
        const real = await realpath(path).catch(() => undefined);
        if (!linkTargetInside(name.split('/'), target).ok || real === undefined || !(real === realRoot || real.startsWith(realRoot + sep))) {
          throw new Error(`${path} -> ${target} points outside ${dir}; Hearth refuses such links when unpacking, so copy the file in instead`);
        }
        out.push({ kind: 'symlink', name, target });
      } else if (st.isDirectory()) {
        out.push({ kind: 'directory', name });
        await walk(path);
      } else if (st.isFile()) {
        total += st.size;
        if (total > limits.unzippedBytes) throw new Error(`${dir} holds more than ${limits.unzippedBytes} bytes, Lambda's unzipped limit`);
        out.push({ kind: 'file', name, path, mode: st.mode & 0o111 ? 0o755 : 0o644, size: st.size });
      }
      // Sockets, FIFOs and devices have no place in a package.
    }
    if (out.length > limits.entries) throw new Error(`${dir} holds more than ${limits.entries} files`);
  };
  await walk(root);
  return out;
}
