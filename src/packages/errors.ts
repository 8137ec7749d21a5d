// Why a package was refused. Every refusal carries a short stable reason code
// (for tests, logs and status conditions) and a message naming the package and
// the offending entry, so a user can fix the archive without guessing.

export const REFUSALS = [
  'absolute-path',
  'path-traversal',
  'invalid-name',
  'name-too-long',
  'duplicate-entry',
  'special-file',
  'symlink-escape',
  'symlink-in-path',
  'zipped-too-large',
  'unzipped-too-large',
  'too-many-entries',
  'digest-mismatch',
  'not-a-zip',
  'unavailable',
] as const;
export type Refusal = (typeof REFUSALS)[number];

export class PackageError extends Error {
  constructor(
    readonly reason: Refusal,
    message: string,
  ) {
    super(`package refused (${reason}): ${message}`);
    this.name = 'PackageError';
  }
}

export function isPackageError(err: unknown, reason?: Refusal): err is PackageError {
  return err instanceof PackageError && (reason === undefined || err.reason === reason);
}
