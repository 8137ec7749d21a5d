// Lambda's deployment package quotas, which Hearth applies to packages and
// layers alike: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
export interface PackageLimits {
  /** Bytes of the ZIP file itself (Lambda: 50 MB for a direct upload). */
  zippedBytes: number;
  /** Bytes of all files once unpacked (Lambda: 250 MB, function and layers together). */
  unzippedBytes: number;
  /** Entries in one archive; Lambda names no number, but millions of empty entries are a cheap denial of service. */
  entries: number;
}

export const LAMBDA_LIMITS: PackageLimits = {
  zippedBytes: 50 * 1024 * 1024,
  unzippedBytes: 250 * 1024 * 1024,
  entries: 100_000,
};

/** Longest symlink target read from an archive; a link is a path, not a payload. */
export const MAX_LINK_TARGET_BYTES = 4096;
