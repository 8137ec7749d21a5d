// Uploaded packages in Redis, the chart's default store in a cluster: one
// string key per package, `hearth:packages:<sha256>`. Every gateway replica
// reads the same Redis, and the chart's Redis keeps an append-only file on a
// PersistentVolume, so a package outlives the pod that took it. Keys are
// content digests, shared by every namespace that uses the Redis (the same
// bytes are the same package). Packages are at most 50 MB, which a Redis
// string (512 MB) holds.
import type { RedisClient } from '../queue/redis.js';
import { DEFAULT_KEY_PREFIX } from '../queue/keys.js';
import { isSha256 } from './signed-url.js';
import type { UploadBackend } from './uploads.js';

export const DEFAULT_PACKAGES_KEY_PREFIX = `${DEFAULT_KEY_PREFIX}:packages:`;

export interface RedisUploadsOptions {
  /** Stays the caller's (closed by it). Give it a command timeout that a 50 MB write fits in. */
  redis: RedisClient;
  /** Prefix of every key (default hearth:packages:). */
  keyPrefix?: string;
}

export class RedisUploads implements UploadBackend {
  readonly describe: string;
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(opts: RedisUploadsOptions) {
    this.#redis = opts.redis;
    this.#prefix = opts.keyPrefix ?? DEFAULT_PACKAGES_KEY_PREFIX;
    this.describe = `redis (keys ${this.#prefix}<sha256>)`;
  }

  key(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a SHA-256 digest: ${sha256}`);
    return `${this.#prefix}${sha256}`;
  }

  async put(sha256: string, bytes: Buffer): Promise<void> {
    const key = this.key(sha256);
    // Keys are content digests: one that exists already holds these bytes, so they are neither sent again nor appended to the AOF twice.
    if ((await this.#redis.exists(key)) === 1) return;
    await this.#redis.set(key, bytes, 'NX');
  }

  async size(sha256: string): Promise<number | undefined> {
    if (!isSha256(sha256)) return undefined;
    const key = this.key(sha256);
    const n = await this.#redis.strlen(key);
    // STRLEN answers 0 for a missing key too; only an empty package (never a ZIP) needs the second question.
    if (n > 0) return n;
    return (await this.#redis.exists(key)) === 1 ? 0 : undefined;
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    if (!isSha256(sha256)) return undefined;
    return (await this.#redis.getBuffer(this.key(sha256))) ?? undefined;
  }
}
