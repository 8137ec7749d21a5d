// The uploads of a cluster gateway: Redis (the chart's default, the
// gateway's own Redis) or an S3-compatible bucket behind PackageUploads,
// Functions naming each package by a signed URL on the gateway's Service.
import type { Logger } from 'pino';
import { createRedisClient, type RedisConnectionOptions } from '../queue/redis.js';
import { PackageUploads } from './package-uploads.js';
import { RedisUploads } from './redis-uploads.js';
import { S3Uploads, type S3UploadsOptions } from './s3-uploads.js';

export type PackageStore = { kind: 'redis' } | { kind: 's3'; s3: S3UploadsOptions };

export interface ClusterPackages {
  store: PackageStore;
  /** The gateway's in-cluster Service URL (http://NAME.NS.svc:PORT), which the controller's agents fetch packages from. */
  packageUrlBase: string;
  /** Shared by every replica (the chart's Secret). */
  signingKey: Buffer;
}

/** A 50 MB package must fit in one command; the queue's commands keep their short timeout on their own connection. */
const PACKAGE_COMMAND_TIMEOUT_MS = 60_000;

export function openClusterUploads(p: ClusterPackages, redis: RedisConnectionOptions, logger: Logger): { uploads: PackageUploads; close(): Promise<void> } {
  if (p.store.kind === 's3') {
    const s3 = new S3Uploads(p.store.s3);
    return { uploads: new PackageUploads({ backend: s3, signingKey: p.signingKey, naming: { kind: 'url', packageUrlBase: p.packageUrlBase } }), close: () => s3.close() };
  }
  const client = createRedisClient({ ...redis, commandTimeoutMs: PACKAGE_COMMAND_TIMEOUT_MS });
  client.on('error', (err: unknown) => logger.debug({ err }, 'packages redis connection error'));
  return {
    uploads: new PackageUploads({ backend: new RedisUploads({ redis: client }), signingKey: p.signingKey, naming: { kind: 'url', packageUrlBase: p.packageUrlBase } }),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
