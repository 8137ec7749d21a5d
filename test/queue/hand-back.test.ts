// Two gateways' consumers on one real Redis, each with its own dispatcher and
// local backend running a real Node.js runtime. The first reads events whose
// instances are still starting (a slow init) and is stopped: the events it
// had not sent to an instance go back to the group at once and the second
// runs them, well before any visibility timeout could have let it; none is
// lost and none runs twice.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema, type HearthFunction } from '../../src/api/function.js';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { createQueue } from '../../src/queue/index.js';
import type { Consumer, Queue } from '../../src/queue/queue.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'hearth-handback-'));
const runsFile = join(work, 'runs.txt');
const prefix = `hb${randomBytes(3).toString('hex')}`;

// Init takes 3 s (a cold start the dispatcher waits for); each run appends its request id.
const source = `import { appendFileSync } from 'node:fs';
await new Promise((r) => setTimeout(r, 3000));
export const handler = async (_event, context) => {
  appendFileSync(${JSON.stringify(runsFile)}, context.awsRequestId + '\\n');
  return { ok: true };
};
`;

const fn: HearthFunction = FunctionSchema.parse({
  apiVersion: 'hearth.dev/v1alpha1',
  kind: 'Function',
  metadata: { name: 'slowstart' },
  spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': source } }, timeoutSeconds: 10, scaling: { maxInstances: 2 } },
});

interface Gateway {
  backend: LocalBackend;
  dispatcher: Dispatcher;
  queue: Queue;
  consumer?: Consumer;
}

let redis: RedisServer;
let enqueuer: Queue | undefined;
const gateways: Gateway[] = [];

async function gateway(): Promise<Gateway> {
  const catalog = new MemoryCatalog();
  catalog.set(fn);
  // No sandbox: the function reports its runs by appending to a file of the host's, which a sandbox would not show it.
  const backend = new LocalBackend({ cacheDir: join(work, `cache-${gateways.length}`), logger: pino({ level: 'silent' }), warmPoolSize: 0, sandbox: false });
  await backend.upsert(fn);
  const dispatcher = new Dispatcher({ catalog, backend });
  const queue = createQueue({ redisUrl: redis.url, redis: { keyPrefix: prefix } });
  const g: Gateway = { backend, dispatcher, queue };
  gateways.push(g);
  // The default visibility timeout (the function's 10 s + 60 s): reclaiming after it would take far longer than this test waits.
  g.consumer = queue.startConsumer({ invoker: dispatcher, catalog });
  return g;
}

beforeAll(async () => {
  redis = await startRedis();
  writeFileSync(runsFile, '');
});

afterAll(async () => {
  for (const g of gateways) {
    await g.consumer?.stop();
    g.dispatcher.close();
    await g.backend.close();
    await g.queue.close();
  }
  await enqueuer?.close();
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('a stopping consumer hands the events still waiting for an instance to the other gateway, which runs each once', { timeout: 90_000 }, async () => {
  const queue = createQueue({ redisUrl: redis.url, redis: { keyPrefix: prefix } });
  enqueuer = queue;
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await queue.enqueue({ functionName: fn.metadata.name, payload: Buffer.from(String(i)) })).requestId);

  const leaving = await gateway();
  // It takes as many as the function can run (2) and waits for their instances to start.
  await waitFor('the first gateway holds two events', async () => (await queue.backlog(fn.metadata.name)).pending === 2, 10_000, 10);
  await gateway();
  await waitFor('the second gateway holds the other two', async () => (await queue.backlog(fn.metadata.name)).pending === 4, 10_000, 10);
  expect(readFileSync(runsFile, 'utf8')).toBe('');

  // Stopped during its cold start: nothing of its own is running, so everything it held goes back.
  await leaving.consumer?.stop();
  leaving.consumer = undefined;
  expect(readFileSync(runsFile, 'utf8')).toBe('');

  const records = await waitFor(
    'every event succeeded',
    async () => {
      const rs = await Promise.all(ids.map((id) => queue.record(id)));
      return rs.every((r) => r?.status === 'succeeded') ? rs : undefined;
    },
    30_000,
    100,
  );
  const runs = readFileSync(runsFile, 'utf8').split('\n').filter(Boolean);
  expect([...runs].sort()).toEqual([...ids].sort());
  expect(records.map((r) => r?.attempts)).toEqual([1, 1, 1, 1]);
  await waitFor('acknowledged', async () => {
    const b = await queue.backlog(fn.metadata.name);
    return b.pending === 0 && b.lag === 0;
  }, 10_000);
});
