// A gateway killed with SIGKILL during async processing: `hearth up` (with
// --credentials and a Redis queue) runs as a child process; events flow in,
// it is killed mid-run, another is started on the same Redis, and every
// event that was answered 202 reaches a terminal record.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { py, writeFunctions } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startChildPlatform, type ChildPlatform } from './child-platform.js';
import { FaultLog } from './collector.js';
import { invokePath, post, terminalRecords } from './support.js';

const log = FaultLog.forFile(import.meta.url);
const KEY = 'sigkill-suite-key-0123456789';
const auth = { authorization: `Bearer ${KEY}` };
let redis: RedisServer;
const platforms: ChildPlatform[] = [];
let dir: string;
let credentials: string;

beforeAll(async () => {
  redis = await startRedis({ aof: true, appendfsync: 'always' });
  dir = mkdtempSync(join(tmpdir(), 'hearth-faults-gw-'));
  const fnDir = join(dir, 'functions');
  mkdirSync(fnDir);
  writeFunctions(fnDir, { worker: { ...py('import time\ndef handler(event, context):\n    time.sleep(0.05)\n    return event\n'), timeoutSeconds: 1, scaling: { maxInstances: 2 } } });
  credentials = join(dir, 'credentials.yaml');
  writeFileSync(credentials, stringify({ callers: [{ name: 'suite', apiKey: KEY, functions: ['worker'] }] }));
}, 60_000);

afterAll(async () => {
  for (const p of platforms) p.killAll();
  await redis?.stop();
  log.flush();
});

async function start(): Promise<ChildPlatform> {
  const p = await startChildPlatform(['--dir', join(dir, 'functions'), '--port', '0', '--redis-url', redis.url, '--credentials', credentials]);
  platforms.push(p);
  return p;
}

it('loses no accepted event when the gateway is SIGKILLed mid-run and another takes over', { timeout: 240_000 }, async () => {
  await log.run(
    'fault',
    'gateway (hearth up) SIGKILLed during async processing, Redis queue, another gateway started',
    'every 202-accepted event reaches a terminal record (entries held by the dead consumer are reclaimed after the visibility timeout, timeout + 60 s); refused sends are the callers to retry',
    async (rec) => {
      const first = await start();
      expect((await post(first.url, invokePath('worker'), '{}')).status).toBe(401);
      const accepted: string[] = [];
      let refused = 0;
      let crashed = false;
      const sending = (async () => {
        for (let i = 0; i < 400; i++) {
          try {
            const a = await post(first.url, invokePath('worker'), JSON.stringify({ n: i }), { ...auth, 'x-amz-invocation-type': 'Event' });
            if (a.status === 202) accepted.push(String(a.headers['x-amzn-requestid']));
            else refused++;
          } catch {
            refused++;
            if (crashed) break;
          }
        }
      })();
      // Kill it with events queued, in flight and done.
      for (let i = 0; i < 600 && accepted.length < 150; i++) await new Promise((r) => setTimeout(r, 50));
      await first.crash();
      crashed = true;
      await sending;
      first.killAll();
      rec.tried(1);
      rec.accepted(accepted.length);
      expect(accepted.length).toBeGreaterThan(0);

      const second = await start();
      const records = await terminalRecords(second.url, accepted, 180_000, auth);
      const lost = accepted.filter((id) => !records.has(id));
      const succeeded = [...records.values()].filter((r) => r.status === 'succeeded').length;
      rec.lost(lost.length);
      rec.observe(`${accepted.length} accepted before the kill (${refused} sends refused or cut off); after restart ${succeeded} succeeded, ${records.size - succeeded} other terminal, ${lost.length} lost`);
      expect(lost).toEqual([]);
      expect(succeeded).toBe(accepted.length);
    },
  );
});
