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

/** Longest name of one file or directory, in UTF-8 bytes: NAME_MAX of Linux file systems, where Lambda unpacks. */
export const MAX_NAME_COMPONENT_BYTES = 255;

/**
 * Longest entry path, in UTF-8 bytes. Linux allows 4096 (PATH_MAX) for the
 * whole path, task root included; a quarter of it leaves the root room and is
 * far beyond what real packages hold (deep node_modules stay under 300).
 */
export const MAX_ENTRY_PATH_BYTES = 1024;
