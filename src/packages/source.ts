// Reads the bytes of one package source (code.package or a layer) wherever it
// lives: a file next to the Function's YAML, a ConfigMap's binaryData, or a
// URL. The digest is computed from the bytes read and, when the spec names
// one, compared before anything is unpacked.
import { isAbsolute, resolve } from 'node:path';
import type { ConfigObjectSource } from '../api/config-objects.js';
import type { PackageSource } from '../api/function.js';
import { assertDigest, sha256 } from './digest.js';
import { PackageError } from './errors.js';
import { fetchPackage } from './fetch.js';
import { LAMBDA_LIMITS, type PackageLimits } from './limits.js';
import { readRegularFile } from './regular-file.js';

export interface LoadedPackage {
  bytes: Buffer;
  sha256: string;
  /** How errors name it: the path, URL or ConfigMap key. */
  label: string;
}

export interface SourceContext {
  /** Directory relative `path`s resolve against (the Function file's directory). */
  baseDir?: string;
  /** Where a configMap source is looked up (a key of binaryData or data, as a volume shows both). */
  objects?: ConfigObjectSource;
  limits?: PackageLimits;
}

export function describeSource(src: PackageSource, baseDir?: string): string {
  if (src.path !== undefined) return isAbsolute(src.path) || baseDir === undefined ? src.path : resolve(baseDir, src.path);
  if (src.url !== undefined) return src.url;
  return `ConfigMap ${src.configMap?.name ?? '?'} key ${src.configMap?.key ?? '?'}`;
}

/** Undefined only for an optional ConfigMap reference that does not exist. */
export async function loadPackage(src: PackageSource, ctx: SourceContext = {}): Promise<LoadedPackage | undefined> {
  const limits = ctx.limits ?? LAMBDA_LIMITS;
  const label = describeSource(src, ctx.baseDir);
  let bytes: Buffer;
  if (src.url !== undefined) {
    if (src.sha256 === undefined) throw new PackageError('digest-mismatch', `${label}: a URL source needs sha256`);
    bytes = await fetchPackage(src.url, { maxBytes: limits.zippedBytes, sha256: src.sha256 });
  } else if (src.path !== undefined) {
    if (!isAbsolute(src.path) && ctx.baseDir === undefined) throw new PackageError('unavailable', `${label}: a relative path needs the Function file's directory`);
    bytes = await readRegularFile(label, limits.zippedBytes);
  } else if (src.configMap !== undefined) {
    const found = ctx.objects?.lookup('ConfigMap', src.configMap.name, src.configMap.key) ?? { ok: false, reason: 'no ConfigMaps are known here' };
    if (!found.ok) {
      if (src.configMap.optional === true) return undefined;
      throw new PackageError('unavailable', `${label}: ${found.reason}`);
    }
    bytes = found.value.bytes;
    if (bytes.length > limits.zippedBytes) throw new PackageError('zipped-too-large', `${label} is ${bytes.length} bytes; the limit is ${limits.zippedBytes} bytes zipped`);
  } else {
    throw new PackageError('unavailable', 'a package source names none of configMap, path or url');
  }
  const digest = sha256(bytes);
  assertDigest(label, digest, src.sha256);
  return { bytes, sha256: digest, label };
}
