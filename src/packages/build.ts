// Builds a deployment package from a directory: what `hearth package` writes
// and what `hearth deploy` publishes when a Function's package path names a
// directory rather than a ZIP file.
import { collectTree } from './collect.js';
import { sha256 } from './digest.js';
import { writeZip } from './zip-write.js';

export interface BuiltPackage {
  zip: Buffer;
  sha256: string;
  files: number;
  unzippedBytes: number;
}

export async function buildPackage(dir: string, opts: { exclude?: readonly string[] } = {}): Promise<BuiltPackage> {
  const entries = await collectTree(dir, opts);
  const zip = await writeZip(entries);
  const files = entries.filter((e) => e.kind === 'file');
  return { zip, sha256: sha256(zip), files: files.length, unzippedBytes: files.reduce((n, e) => n + e.size, 0) };
}
