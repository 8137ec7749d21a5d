// A gateway killed with SIGKILL during async processing: `hearth up` (with
// --credentials and a Redis queue) runs as a child process; events flow in,
// it is killed while a run is under way, another is started on the same
// Redis, and every event that was answered 202 reaches a terminal record.
// The function notes each run of each event; an event that ran twice (at
// least once delivery) says so in its record's attempts.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { py, writeFunctions } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { NO_SANDBOX_ENV, startChildPlatform, type ChildPlatform } from './child-platform.js';
import { FaultLog } from './collector.js';
import { invokePath, post, terminalRecords, waitFor } from './support.js';

const log = FaultLog.forFile(import.meta.url);
const KEY = 'sigkill-suite-key-0123456789';
const auth = { authorization: `Bearer ${KEY}` };
let redis: RedisServer;
const platforms: ChildPlatform[] = [];
let dir: string;
let credentials: string;
let runsFile: string;

/** Request ids in the order the function started running them. */
function runs(): string[] {
  return readFileSync(runsFile, 'utf8').split('\n').filter(Boolean);
}

beforeAll(async () => {
  redis = await startRedis({ aof: true, appendfsync: 'always' });
  dir = mkdtempSync(join(tmpdir(), 'hearth-faults-gw-'));
  const fnDir = join(dir, 'functions');
  mkdirSync(fnDir);
  runsFile = join(dir, 'runs.txt');
  writeFileSync(runsFile, '');
  const source = `import time\ndef handler(event, context):\n    with open(${JSON.stringify(runsFile)}, "a") as f:\n        f.write(context.aws_request_id + "\\n")\n    time.sleep(0.05)\n    return event\n`;
  writeFunctions(fnDir, { worker: { ...py(source), timeoutSeconds: 1, scaling: { maxInstances: 2 } } });
  credentials = join(dir, 'credentials.yaml');
  writeFileSync(credentials, stringify({ callers: [{ name: 'suite', apiKey: KEY, functions: ['worker'] }] }));
}, 60_000);

afterAll(async () => {
  for (const p of platforms) p.killAll();
  await redis?.stop();
  log.flush();
});

async function start(): Promise<ChildPlatform> {
  // No sandbox: the function notes its runs in a file of the host's.
  const p = await startChildPlatform(['--dir', join(dir, 'functions'), '--port', '0', '--redis-url', redis.url, '--credentials', credentials, '--insecure-no-sandbox'], 60_000, NO_SANDBOX_ENV);
  platforms.push(p);
  return p;
}

it('loses no accepted event when the gateway is SIGKILLed mid-run and another takes over', { timeout: 240_000 }, async () => {
  await log.run(
    'fault',
    'gateway (hearth up) SIGKILLed during async processing, Redis queue, another gateway started',
    'every 202-accepted event reaches a terminal record (entries held by the dead consumer are reclaimed after the visibility timeout, timeout + 60 s); refused sends are the callers to retry; each record\'s attempts equal the runs of its event, also for one that ran twice',
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
      // Kill it with events queued, in flight and done: just after a run started, so that event runs again.
      for (let i = 0; i < 600 && accepted.length < 150; i++) await new Promise((r) => setTimeout(r, 50));
      const seen = runs().length;
      await waitFor('a run starting', async () => runs().length > seen, 30_000, 2);
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
      const ran = new Map<string, number>();
      for (const id of runs()) ran.set(id, (ran.get(id) ?? 0) + 1);
      const twice = accepted.filter((id) => (ran.get(id) ?? 0) > 1);
      const untrue = accepted.filter((id) => records.get(id)?.attempts !== ran.get(id)).map((id) => ({ id, attempts: records.get(id)?.attempts, runs: ran.get(id) }));
      rec.observe(`${accepted.length} accepted before the kill (${refused} sends refused or cut off); after restart ${succeeded} succeeded, ${records.size - succeeded} other terminal, ${lost.length} lost; ${twice.length} ran twice, ${untrue.length} records whose attempts differ from their runs`);
      expect(lost).toEqual([]);
      expect(succeeded).toBe(accepted.length);
      // The kill came during a run: that event ran again, and its record counts both runs.
      expect(twice.length).toBeGreaterThanOrEqual(1);
      expect(untrue).toEqual([]);
    },
  );
});
