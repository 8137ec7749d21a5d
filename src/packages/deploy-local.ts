// `hearth deploy` to the embedded platform: the package files are copied into
// the functions directory beside a rewritten copy of the YAML, which names
// them by relative path and digest. Packages are written before the YAML, and
// each file under a temporary name then renamed, because a running `hearth up`
// reloads as soon as a YAML file appears.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { HearthFunction } from '../api/function.js';
import { readAndCheckSources, replaceSource, type ReadSource, type SourceSlot } from './publish.js';

export interface Deployed {
  name: string;
  files: string[];
}

export function packageFileName(fn: string, slot: SourceSlot): string {
  return slot.kind === 'code' ? `${fn}.zip` : `${fn}.layer-${slot.index}.zip`;
}

async function writeAtomic(path: string, data: Buffer | string): Promise<void> {
  // The temporary name does not end in .yaml, so the directory watcher ignores it.
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** `sources`: the Function's packages already read and checked (readAndCheckSources); read and checked here otherwise. */
export async function deployToDir(fn: HearthFunction, raw: unknown, baseDir: string, dir: string, sources?: readonly ReadSource[]): Promise<Deployed> {
  const name = fn.metadata.name;
  const read = sources ?? (await readAndCheckSources(fn, baseDir));
  await mkdir(dir, { recursive: true });
  let doc = raw;
  const files: string[] = [];
  for (const pkg of read) {
    const file = packageFileName(name, pkg.slot);
    await writeAtomic(join(dir, file), pkg.zip);
    files.push(file);
    doc = replaceSource(doc, pkg.slot, { path: file, sha256: pkg.sha256 });
  }
  const yamlFile = `${name}.yaml`;
  await writeAtomic(join(dir, yamlFile), stringify(doc));
  files.push(yamlFile);
  return { name, files };
}
