// Uploaded packages in an S3-compatible bucket (AWS S3, MinIO, versitygw,
// Ceph RGW, ...), for operators who keep artifacts there: one object per
// package, `<prefix><sha256>.zip`, PUT, GET and HEAD path-style
// (ENDPOINT/BUCKET/KEY, which every S3-compatible store serves) and signed
// with Signature Version 4 by the same signer the gateway checks its callers
// with. The bucket must exist; Hearth writes and reads objects only.
import { Agent, request, type Dispatcher } from 'undici';
import { sha256 } from '../packages/digest.js';
import { LAMBDA_LIMITS } from '../packages/limits.js';
import { sigV4Signer, signOutgoing } from '../gateway/auth/sigv4.js';
import { isSha256 } from './signed-url.js';
import type { UploadBackend } from './uploads.js';

export const DEFAULT_S3_REGION = 'us-east-1';

export interface S3UploadsOptions {
  /** http(s)://host[:port] of the store's S3 API (no bucket in it). */
  endpoint: string;
  bucket: string;
  /** The region the signature is scoped to (default us-east-1, which S3-compatible stores accept). */
  region?: string;
  /** Prefix of every object key, e.g. `hearth/packages/` (default none). */
  prefix?: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Per request: headers and body each (default 60 s). */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

export class S3StoreError extends Error {
  constructor(
    readonly status: number,
    /** S3's error Code from the XML body (NoSuchBucket, AccessDenied, ...), when it sent one. */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'S3StoreError';
  }
}

/** RFC 3986 encoding of each path segment, as SigV4 for S3 signs them (slashes kept). */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

const EMPTY_SHA256 = sha256(Buffer.alloc(0));

export class S3Uploads implements UploadBackend {
  readonly describe: string;
  readonly #opts: S3UploadsOptions;
  readonly #base: URL;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #signer: ReturnType<typeof sigV4Signer>;

  constructor(opts: S3UploadsOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.endpoint);
    if (this.#base.protocol !== 'http:' && this.#base.protocol !== 'https:') throw new Error(`S3 endpoint must be http(s)://, not ${opts.endpoint}`);
    if (opts.bucket === '' || opts.bucket.includes('/')) throw new Error(`invalid S3 bucket name: ${JSON.stringify(opts.bucket)}`);
    this.#ownDispatcher = opts.dispatcher === undefined;
    this.#dispatcher = opts.dispatcher ?? new Agent({ connections: 8 });
    this.#signer = sigV4Signer({
      service: 's3',
      region: opts.region ?? DEFAULT_S3_REGION,
      accessKeyId: opts.credentials.accessKeyId,
      secretAccessKey: opts.credentials.secretAccessKey,
      // S3 signs the path as sent, encoded once.
      uriEscapePath: false,
    });
    this.describe = `s3 ${this.#base.origin}/${opts.bucket}/${opts.prefix ?? ''}`;
  }

  objectKey(sha: string): string {
    if (!isSha256(sha)) throw new Error(`not a SHA-256 digest: ${sha}`);
    return `${this.#opts.prefix ?? ''}${sha}.zip`;
  }

  #url(key?: string): URL {
    const basePath = this.#base.pathname.replace(/\/+$/, '');
    return new URL(`${this.#base.origin}${basePath}/${encodeURIComponent(this.#opts.bucket)}${key === undefined ? '' : `/${encodeKeyPath(key)}`}`);
  }

  async #send(method: 'GET' | 'HEAD' | 'PUT', url: URL, body?: Buffer, payloadSha256?: string): Promise<Dispatcher.ResponseData> {
    const headers = await signOutgoing(this.#signer, {
      method,
      url,
      headers: {
        'x-amz-content-sha256': payloadSha256 ?? (body ? sha256(body) : EMPTY_SHA256),
        ...(body ? { 'content-length': String(body.length), 'content-type': 'application/zip' } : {}),
      },
    });
    const timeout = this.#opts.timeoutMs ?? 60_000;
    return request(url, {
      method,
      headers,
      ...(body ? { body } : {}),
      dispatcher: this.#dispatcher,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  async put(sha: string, bytes: Buffer): Promise<void> {
    // The object's digest is its key, and the payload hash SigV4 signs: the store checks the bytes against it.
    const res = await this.#send('PUT', this.#url(this.objectKey(sha)), bytes, sha);
    await expectOk(res, `PUT ${this.describe}${sha}.zip`);
  }

  async get(sha: string): Promise<Buffer | undefined> {
    if (!isSha256(sha)) return undefined;
    const res = await this.#send('GET', this.#url(this.objectKey(sha)));
    if (res.statusCode === 404) {
      const err = await errorOf(res, '');
      // A missing bucket is a misconfiguration, not a missing package.
      if (err.code === 'NoSuchBucket') throw new S3StoreError(404, err.code, `GET ${this.describe}${sha}.zip: ${err.message}`);
      return undefined;
    }
    if (res.statusCode !== 200) await expectOk(res, `GET ${this.describe}${sha}.zip`);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      n += c.length;
      // Nothing larger than a package was ever put here; do not fill memory with what another writer left.
      if (n > LAMBDA_LIMITS.zippedBytes) {
        res.body.destroy();
        throw new S3StoreError(200, undefined, `GET ${this.describe}${sha}.zip: object larger than ${LAMBDA_LIMITS.zippedBytes} bytes`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  async size(sha: string): Promise<number | undefined> {
    if (!isSha256(sha)) return undefined;
    const res = await this.#send('HEAD', this.#url(this.objectKey(sha)));
    await res.body.dump();
    // A HEAD's 404 has no body to tell a missing bucket from a missing object: both are no package here (put and get still report the bucket).
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw new S3StoreError(res.statusCode, undefined, `HEAD ${this.describe}${sha}.zip: HTTP ${res.statusCode}`);
    const length = Number(res.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) throw new S3StoreError(200, undefined, `HEAD ${this.describe}${sha}.zip: no Content-Length`);
    return length;
  }

  /** PUT Bucket: for tests and first-time setup; an existing bucket of this owner is fine. */
  async createBucket(): Promise<void> {
    const res = await this.#send('PUT', this.#url());
    if (res.statusCode === 409) {
      const err = await errorOf(res, 'PUT bucket');
      if (err.code === 'BucketAlreadyOwnedByYou') return;
      throw new S3StoreError(409, err.code, `PUT bucket ${this.#opts.bucket}: ${err.message}`);
    }
    await expectOk(res, `PUT bucket ${this.#opts.bucket}`);
  }

  async close(): Promise<void> {
    if (this.#ownDispatcher) await this.#dispatcher.close();
  }
}

async function errorOf(res: Dispatcher.ResponseData, what: string): Promise<{ code: string | undefined; message: string }> {
  const text = await res.body.text().catch(() => '');
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const detail = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return { code, message: `${what ? `${what}: ` : ''}HTTP ${res.statusCode}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}` };
}

async function expectOk(res: Dispatcher.ResponseData, what: string): Promise<void> {
  if (res.statusCode >= 200 && res.statusCode < 300) {
    await res.body.dump();
    return;
  }
  const err = await errorOf(res, what);
  throw new S3StoreError(res.statusCode, err.code, err.message);
}
