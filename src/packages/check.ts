// `hearth deploy`'s check of the packages it is about to publish: each is
// unpacked into a scratch directory by the very code the platform unpacks
// with (unzipInto, with Lambda's limits), the code alone and the layers in
// order into one directory as the package store does, then thrown away. A
// package the platform would refuse is refused here, with the same reason,
// before anything is uploaded.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAMBDA_LIMITS, type PackageLimits } from './limits.js';
import { unzipInto } from './unzip.js';

export interface PackageToCheck {
  /** How the refusal names where the package sits, e.g. `hello: layers[0]`. */
  where: string;
  /** How unzip's messages name the package (its path). */
  label: string;
  zip: Buffer;
  kind: 'code' | 'layer';
}

export async function checkAsPlatform(packages: readonly PackageToCheck[], limits: PackageLimits = LAMBDA_LIMITS): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'hearth-deploy-check-'));
  try {
    let layerBytes = 0;
    for (const p of packages) {
      const dest = p.kind === 'code' ? join(scratch, 'task') : join(scratch, 'opt');
      try {
        const stats = await unzipInto(p.zip, dest, { limits, label: p.label, ...(p.kind === 'layer' ? { alreadyUnpacked: layerBytes } : {}) });
        if (p.kind === 'layer') layerBytes += stats.bytes;
      } catch (err) {
        throw new Error(`${p.where}: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
