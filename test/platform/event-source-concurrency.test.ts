// The embedded platform with a Redis (gateways that share it may share
// mappings) counts a mapping's scalingConfig.maximumConcurrency in Redis,
// under the mapping's own lease key, not in the process: a real Python
// function that sleeps a little per batch, three streams with records waiting,
// maximumConcurrency 2. The key holds 2 leases while batches run, never more,
// and none once every record is processed. (Two gateways sharing the count:
// test/sources/concurrency-slots.test.ts.)
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionKeys } from '../../src/queue/keys.js';
import { mappingSlotsKey } from '../../src/sources/concurrency-slots.js';
import { py, startPlatform } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const handler = `import json, os, time
def handler(event, context):
    time.sleep(0.2)
    with open(os.path.join(os.environ["OUT"], "seen"), "a") as f:
        for recs in event["records"].values():
            for r in recs:
                f.write(r["fields"]["seq"] + "\\n")
    return None
`;

let server: RedisServer;
let redis: Redis;
let out: string;
let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
const streams = ['cap:a', 'cap:b', 'cap:c'];

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  out = mkdtempSync(join(tmpdir(), 'hearth-esm-cap-'));
  for (const s of streams) for (let i = 0; i < 4; i++) await redis.xadd(s, '*', 'seq', `${s}/${i}`);
});
afterAll(async () => {
  await platform?.close();
  redis?.disconnect();
  await server?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('maximumConcurrency on the embedded platform with Redis', () => {
  it('is counted in Redis under the mapping\'s key: 2 leases while batches run, none after', { timeout: 90_000 }, async () => {
    const doc = stringify({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name: 'capped' },
      spec: { functionName: 'slow', batchSize: 1, startingPosition: 'TRIM_HORIZON', redisStreams: { url: server.url, streams }, scalingConfig: { maximumConcurrency: 2 } },
    });
    const leases = functionKeys(mappingSlotsKey('default/capped')).leases;
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await redis.zcard(leases));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      platform = await startPlatform(
        { slow: { ...py(handler), env: [{ name: 'OUT', value: out }] } },
        { redisUrl: server.url, eventSources: { leaseMs: 1500, idlePollMs: 20, lagIntervalMs: 200 }, backend: { sandbox: false } },
        { 'mappings.yaml': doc },
      );
      const file = join(out, 'seen');
      const seen = (): Set<string> => new Set(existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);
      await waitFor('every record processed', () => seen().size === 12, 60_000, 100);
      await waitFor('the leases given back', async () => (await redis.zcard(leases)) === 0, 5000);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(most).toBe(2);
  });
});
