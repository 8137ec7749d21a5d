// The Uploads the control-plane API works with: a package sent as ZipFile is
// checked by the code the platform unpacks with (a ZIP, within Lambda's
// limits, every entry safe), stored by its SHA-256 in a backend, and named
// for a Function's spec:
//
//   - embedded (`hearth up`): `package.path: .hearth/packages/SHA.zip`,
//     resolved against the functions directory (DirectoryUploads);
//   - cluster: `package.url: BASE/packages/SHA?expires=0&signature=S`, the
//     gateway's own route behind its in-cluster Service, which the
//     controller's agents fetch (Redis or S3 behind it).
//
// Code.Location is the same route under the base the caller reached, with a
// signature that expires.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackageSource } from '../api/function.js';
import { sha256 } from '../packages/digest.js';
import { PackageError } from '../packages/errors.js';
import { LAMBDA_LIMITS, type PackageLimits } from '../packages/limits.js';
import { unzipInto } from '../packages/unzip.js';
import { uploadPath } from './directory-uploads.js';
import { checkGrant, expiresAfter, isSha256, NEVER_EXPIRES, signedQuery } from './signed-url.js';
import type { StoredUpload, UploadBackend, Uploads } from './uploads.js';

/** Lambda's presigned Code.Location lives ten minutes. */
export const DEFAULT_LOCATION_TTL_SECONDS = 600;

/** How Functions name an upload. */
export type UploadNaming =
  /** By `package.path` relative to the functions directory (DirectoryUploads keeps the files there). */
  | { kind: 'path' }
  /** By `package.url` under the gateway's in-cluster base URL, e.g. http://hearth-gateway.hearth.svc:80. */
  | { kind: 'url'; packageUrlBase: string };

export interface PackageUploadsOptions {
  backend: UploadBackend;
  /** The HMAC key package URLs are signed with (at least 32 bytes; every gateway replica must hold the same one), or how to get it when first needed. */
  signingKey: Buffer | (() => Buffer);
  naming: UploadNaming;
  limits?: PackageLimits;
  now?: () => number;
}

export const MIN_SIGNING_KEY_BYTES = 32;

/** The URL path of an upload on the gateway. */
export function packageRoute(sha: string): string {
  return `/packages/${sha}`;
}

function trimBase(base: string): string {
  return base.replace(/\/+$/, '');
}

export class PackageUploads implements Uploads {
  readonly #opts: PackageUploadsOptions;
  readonly #now: () => number;
  readonly #limits: PackageLimits;
  /** Sizes of packages known to be stored: a digest's bytes never change, so each is asked of the backend once. */
  readonly #sizes = new Map<string, number>();

  constructor(opts: PackageUploadsOptions) {
    if (Buffer.isBuffer(opts.signingKey)) checkKey(opts.signingKey);
    if (opts.naming.kind === 'url') {
      const u = new URL(opts.naming.packageUrlBase);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the package URL base must be http(s)://, not ${opts.naming.packageUrlBase}`);
    }
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#limits = opts.limits ?? LAMBDA_LIMITS;
  }

  #key(): Buffer {
    const k = this.#opts.signingKey;
    return Buffer.isBuffer(k) ? k : checkKey(k());
  }

  get describe(): string {
    return this.#opts.backend.describe;
  }

  async put(bytes: Buffer): Promise<StoredUpload> {
    await checkPackage(bytes, this.#limits);
    const sha = sha256(bytes);
    await this.#opts.backend.put(sha, bytes);
    this.#sizes.set(sha, bytes.length);
    return { sha256: sha, size: bytes.length, source: this.source(sha) };
  }

  /** How a Function names the upload of digest `sha`. */
  source(sha: string): PackageSource {
    const naming = this.#opts.naming;
    if (naming.kind === 'path') return { path: uploadPath(sha), sha256: sha };
    return { url: `${trimBase(naming.packageUrlBase)}${packageRoute(sha)}?${signedQuery(this.#key(), sha, NEVER_EXPIRES)}`, sha256: sha };
  }

  async read(sha: string): Promise<Buffer | undefined> {
    if (!isSha256(sha)) return undefined;
    const bytes = await this.#opts.backend.get(sha);
    // What a store gives back is checked against its name before anyone runs it.
    if (bytes !== undefined && sha256(bytes) !== sha) throw new Error(`${this.describe}: the package stored as ${sha} has another digest`);
    return bytes;
  }

  async size(sha: string): Promise<number | undefined> {
    const digest = sha.toLowerCase();
    if (!isSha256(digest)) return undefined;
    const known = this.#sizes.get(digest);
    if (known !== undefined) return known;
    const size = await this.#opts.backend.size(digest);
    if (size !== undefined) this.#sizes.set(digest, size);
    return size;
  }

  location(sha: string, publicBase: string, ttlSeconds = DEFAULT_LOCATION_TTL_SECONDS): string {
    return `${trimBase(publicBase)}${packageRoute(sha)}?${signedQuery(this.#key(), sha, expiresAfter(this.#now(), ttlSeconds))}`;
  }

  grants(sha: string, query: Record<string, string | undefined>, nowMs: number): boolean {
    return checkGrant(this.#key(), sha, query, nowMs).ok;
  }
}

function checkKey(key: Buffer): Buffer {
  if (key.length < MIN_SIGNING_KEY_BYTES) throw new Error(`the package signing key must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  return key;
}

/**
 * Refuses what the platform would refuse to run, with the same reasons: more
 * than the zipped limit, not a ZIP, unsafe or too many entries, more than the
 * unzipped limit. Unpacked into a scratch directory by the platform's own
 * unpacker, then thrown away.
 */
export async function checkPackage(bytes: Buffer, limits: PackageLimits = LAMBDA_LIMITS): Promise<void> {
  if (bytes.length > limits.zippedBytes) {
    throw new PackageError('zipped-too-large', `ZipFile is ${bytes.length} bytes; the limit is ${limits.zippedBytes} bytes zipped`);
  }
  const scratch = await mkdtemp(join(tmpdir(), 'hearth-upload-check-'));
  try {
    await unzipInto(bytes, join(scratch, 'task'), { limits, label: 'ZipFile' });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
