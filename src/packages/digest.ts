import { createHash } from 'node:crypto';
import { PackageError } from './errors.js';

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Compared before a single byte is unpacked. */
export function assertDigest(label: string, actual: string, expected: string | undefined): void {
  if (expected !== undefined && actual !== expected.toLowerCase()) {
    throw new PackageError('digest-mismatch', `${label} has SHA-256 ${actual}, but ${expected} was expected`);
  }
}
