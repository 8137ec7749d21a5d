// DirectoryUploads on a real disk and RedisUploads on a real redis-server
// (with the append-only file the chart's Redis keeps), held to the backend
// contract, plus what each promises of its own layout.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/packages/digest.js';
import { createRedisClient, type RedisClient } from '../../src/queue/redis.js';
import { DirectoryUploads, uploadPath } from '../../src/uploads/directory-uploads.js';
import { RedisUploads } from '../../src/uploads/redis-uploads.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { backendContract } from './backend-contract.js';

describe('DirectoryUploads', () => {
  let dir: string;
  let backend: DirectoryUploads;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-uploads-dir-'));
    backend = new DirectoryUploads(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  backendContract(() => ({ backend: () => backend, reopen: async () => new DirectoryUploads(dir) }));

  it('writes <dir>/.hearth/packages/<sha256>.zip, whole, and leaves no temporary file', async () => {
    const bytes = Buffer.from('zip bytes');
    const digest = sha256(bytes);
    await backend.put(digest, bytes);
    expect(uploadPath(digest)).toBe(`.hearth/packages/${digest}.zip`);
    expect(readFileSync(join(dir, '.hearth', 'packages', `${digest}.zip`)).equals(bytes)).toBe(true);
    expect(readdirSync(join(dir, '.hearth', 'packages')).filter((f) => !/^[a-f0-9]{64}\.zip$/.test(f))).toEqual([]);
    // Nothing new at the top of the functions directory, where the watcher looks for YAML.
    expect(readdirSync(dir)).toEqual(['.hearth']);
  });

  it('leaves an existing package file as it is', async () => {
    const bytes = Buffer.from('written once');
    const digest = sha256(bytes);
    await backend.put(digest, bytes);
    const file = join(dir, '.hearth', 'packages', `${digest}.zip`);
    const before = statSync(file).ino;
    await backend.put(digest, bytes);
    expect(statSync(file).ino).toBe(before);
  });
});

describe('RedisUploads', () => {
  let server: RedisServer;
  let client: RedisClient;
  const clients: RedisClient[] = [];
  const connect = async (): Promise<RedisClient> => {
    const c = createRedisClient({ url: server.url, commandTimeoutMs: 60_000 });
    clients.push(c);
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    return c;
  };
  beforeAll(async () => {
    server = await startRedis({ aof: true });
    client = await connect();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  backendContract(() => ({
    backend: () => new RedisUploads({ redis: client }),
    reopen: async () => {
      // A crash, not a clean stop: the append-only file (fsync always, as the chart's) holds every acknowledged write.
      await server.restart({ kill: true });
      client = await connect();
      return new RedisUploads({ redis: client });
    },
  }));

  it('keeps one key per package, hearth:packages:<sha256>, or under the prefix given', async () => {
    const bytes = Buffer.from('a package');
    const digest = sha256(bytes);
    await new RedisUploads({ redis: client }).put(digest, bytes);
    expect((await client.getBuffer(`hearth:packages:${digest}`))?.equals(bytes)).toBe(true);
    await new RedisUploads({ redis: client, keyPrefix: 'other:' }).put(digest, bytes);
    expect(await client.exists(`other:${digest}`)).toBe(1);
  });
});
