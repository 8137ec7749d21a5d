// Deployment packages uploaded through the Lambda control-plane API
// (CreateFunction's and UpdateFunctionCode's ZipFile), kept by content digest
// in a place every gateway replica can read and that survives restarts:
//
//   - the functions directory's .hearth/packages/ under `hearth up`
//     (DirectoryUploads; a Function names it by `package.path`);
//   - the release's Redis in a cluster, the chart's default (RedisUploads;
//     its append-only file is on a PersistentVolume);
//   - an S3-compatible bucket when the operator points Hearth at one
//     (S3Uploads, Signature Version 4).
//
// In a cluster a Function names an uploaded package by `package.url`: the
// gateway's own `GET /packages/SHA256` behind its Service, signed so that only
// who can read the Function (or was given Code.Location) can download it.
// GetFunction's Code.Location is the same route with a signature that expires,
// as Lambda's presigned S3 URL does.
import type { PackageSource } from '../api/function.js';

/** Where the bytes live. Keys are SHA-256 hex digests of the bytes. */
export interface UploadBackend {
  /** Stores the bytes under their digest (idempotent: the same bytes twice is one object). */
  put(sha256: string, bytes: Buffer): Promise<void>;
  /** The bytes, or undefined when no package has this digest. */
  get(sha256: string): Promise<Buffer | undefined>;
  /** How many bytes the package of this digest has, asked of the store without reading them (stat, STRLEN, HEAD); undefined when none. */
  size(sha256: string): Promise<number | undefined>;
  /** A short description for logs and the README, e.g. "redis", "s3://bucket/prefix". */
  readonly describe: string;
}

export interface StoredUpload {
  sha256: string;
  size: number;
  /** What a Function's spec names to run these bytes (code.package or a layer). */
  source: PackageSource;
}

/**
 * The control-plane API's view: store a package, say how a Function names
 * it, read it back, and give a URL that downloads it.
 */
export interface Uploads {
  /** Checks the bytes are a ZIP within Lambda's limits (PackageError otherwise), stores them, and returns how a Function names them. */
  put(bytes: Buffer): Promise<StoredUpload>;
  /** The bytes of an uploaded package (undefined when unknown). */
  read(sha256: string): Promise<Buffer | undefined>;
  /**
   * The size in bytes of the uploaded package of this digest, without reading
   * it (undefined when none is stored): Lambda's CodeSize, and whether
   * GetFunction can give a Code.Location for code whose digest this is.
   */
  size(sha256: string): Promise<number | undefined>;
  /** A URL under `publicBase` (the gateway as the caller reached it) that downloads the package for `ttlSeconds`. */
  location(sha256: string, publicBase: string, ttlSeconds?: number): string;
  /** Whether a /packages request's query (expires, signature) grants the download now. */
  grants(sha256: string, query: Record<string, string | undefined>, nowMs: number): boolean;
}
