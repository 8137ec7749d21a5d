// Code and layers from ZIP packages, for the local backend: where each source
// is read from (a path relative to the Function's YAML file, a ConfigMap in
// the object store, a URL), and the unpacked directories that stand in for
// /var/task and /opt. Errors name the function and the field.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ConfigObjectSource } from '../../api/config-objects.js';
import type { HearthFunction, PackageSource } from '../../api/function.js';
import { loadPackage, type LoadedPackage } from '../../packages/source.js';
import type { PackageStore } from '../../packages/store.js';
import { SOURCE_ANNOTATION } from '../../platform/function-files.js';

/** The directory of the YAML file the function came from, against which relative package paths resolve. */
export function functionFileDir(fn: HearthFunction): string | undefined {
  const file = fn.metadata.annotations?.[SOURCE_ANNOTATION];
  return file === undefined ? undefined : dirname(file);
}

export class PackagedCode {
  constructor(
    private readonly store: PackageStore,
    private readonly objects: ConfigObjectSource,
  ) {}

  /** The unpacked task root of code.package, and the package's digest. */
  async taskRoot(fn: HearthFunction, src: PackageSource): Promise<{ dir: string; sha256: string }> {
    const name = fn.metadata.name;
    // A digest in the spec names the content: no need to read or fetch it again.
    const cached = src.sha256 !== undefined ? this.store.cachedTaskRoot(src.sha256) : undefined;
    if (cached !== undefined && src.sha256 !== undefined) return { dir: cached, sha256: src.sha256 };
    const pkg = await this.load(fn, src, 'code.package');
    if (pkg === undefined) throw new Error(`function ${name}: code.package: ConfigMap ${src.configMap?.name ?? ''} is optional but the code cannot be`);
    return { dir: await wrap(name, 'code.package', this.store.taskRoot(pkg)), sha256: pkg.sha256 };
  }

  /** The local stand-in for /opt, or undefined without layers. */
  async optDir(fn: HearthFunction): Promise<string | undefined> {
    const layers = fn.spec.layers ?? [];
    if (layers.length === 0) return undefined;
    const loaded: LoadedPackage[] = [];
    for (const [i, l] of layers.entries()) {
      const pkg = await this.load(fn, l, `layers[${i}]`);
      if (pkg !== undefined) loaded.push(pkg);
    }
    return wrap(fn.metadata.name, 'layers', this.store.optDir(loaded));
  }

  private load(fn: HearthFunction, src: PackageSource, field: string): Promise<LoadedPackage | undefined> {
    const baseDir = functionFileDir(fn);
    return wrap(fn.metadata.name, field, loadPackage(src, { ...(baseDir !== undefined ? { baseDir } : {}), objects: this.objects }));
  }
}

async function wrap<T>(name: string, field: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const e = err as Error;
    throw Object.assign(new Error(`function ${name}: ${field}: ${e.message}`, { cause: err }), { reason: (err as { reason?: string }).reason });
  }
}

/** The executable `bootstrap` at the root of a task directory, or a clear reason why there is none. */
export async function bootstrapOf(name: string, taskRoot: string): Promise<string> {
  const path = join(taskRoot, 'bootstrap');
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) throw new Error(`function ${name}: runtime provided needs an executable named bootstrap at the root of the package; there is none`);
  if (!st.isFile()) throw new Error(`function ${name}: bootstrap in the package is not a regular file`);
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(`function ${name}: bootstrap in the package is not executable (zip it with its mode bits, e.g. chmod +x bootstrap and hearth package)`);
  }
  return path;
}

/** Whether the task root ships an executable bootstrap (a Go package may ship a binary or sources). */
export async function hasBootstrap(taskRoot: string): Promise<boolean> {
  return access(join(taskRoot, 'bootstrap'), constants.X_OK).then(() => true, () => false);
}
