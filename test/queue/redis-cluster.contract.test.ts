// The contract again, through ioredis's Cluster client against a Redis in
// cluster mode: MULTI and the Lua scripts must keep to one slot per function.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createQueue } from '../../src/queue/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { queueContract } from './contract.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis({ cluster: true });
});
afterAll(async () => {
  await server?.stop();
});

const prefix = (): string => `c${randomBytes(4).toString('hex')}`;
queueContract('redis cluster', async (opts) => createQueue({ ...opts, redis: { cluster: [{ host: '127.0.0.1', port: server.port }], keyPrefix: prefix() } }), (s) => `${prefix()}:${s}`);
