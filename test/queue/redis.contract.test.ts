import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createQueue } from '../../src/queue/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { queueContract } from './contract.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

// Each test gets its own key prefix on the one server, as separate installations would.
const prefix = (): string => `t${randomBytes(4).toString('hex')}`;
queueContract('redis', async (opts) => createQueue({ ...opts, redisUrl: server.url, redis: { keyPrefix: prefix() } }), (s) => `${prefix()}:${s}`);
