// A function as an attacker on the gateway's memory, against `hearth up` run
// as a child process so its RSS (/proc/PID/status VmRSS) is the gateway's
// alone: 1 GB written to stdout, and 600 async events each answered with a
// 1 MB result kept by the in-memory queue.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { STAMP_BYTES } from '../../src/logs/log-lines.js';
import { py, writeFunctions } from '../helpers/platform.js';
import { startChildPlatform, type ChildPlatform } from './child-platform.js';
import { FaultLog } from './collector.js';
import { get, invokePath, post, waitFor } from './support.js';
import { rssBytes } from './rss.js';

const log = FaultLog.forFile(import.meta.url);
const MiB = 1024 * 1024;
/** What the gateway is started with: 4 MiB per log file, NAME.log and NAME.log.1; at most 64 MiB in the queue. */
const LOG_FILE_BYTES = 4 * MiB;
const LOG_FILES = 2;
const QUEUE_BYTES = 64 * MiB;
let dir: string;
let cache: string;
let platform: ChildPlatform | undefined;

const flood = `import sys
def handler(event, context):
    if "long" in event:
        print("L" * event["long"], flush=True)
        return {"long": event["long"]}
    # 1 MiB of 1 KiB lines, written event["mib"] times.
    chunk = ("y" * 1023 + "\\n") * 1024
    for _ in range(event["mib"]):
        sys.stdout.write(chunk)
    sys.stdout.flush()
    return {"wrote": event["mib"]}
`;
const bigResult = `def handler(event, context):
    return "r" * (1024 * 1024)
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-faults-output-'));
  cache = join(dir, 'cache');
  const fnDir = join(dir, 'functions');
  mkdirSync(fnDir);
  writeFunctions(fnDir, {
    flood: { ...py(flood), timeoutSeconds: 300 },
    big: { ...py(bigResult), timeoutSeconds: 30, scaling: { maxInstances: 2 } },
  });
  // The child inherits this: its function logs go under the test's directory.
  process.env.XDG_CACHE_HOME = cache;
  platform = await startChildPlatform([
    '--dir',
    fnDir,
    '--port',
    '0',
    '--log-level',
    'info',
    '--function-log-max-bytes',
    String(LOG_FILE_BYTES),
    '--function-log-files',
    String(LOG_FILES),
    '--queue-max-bytes',
    String(QUEUE_BYTES),
  ]);
}, 120_000);

afterAll(() => {
  platform?.killAll();
  log.flush();
});

function pid(): number {
  const p = platform?.child.pid;
  if (p === undefined) throw new Error('no gateway process');
  return p;
}

/** Samples the gateway's RSS every 100 ms while `work` runs; returns the peak. */
async function peakRss<T>(work: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rssBytes(pid());
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssBytes(pid()));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { result: await work, peak };
  } finally {
    running = false;
    await sampler;
    peak = Math.max(peak, rssBytes(pid()));
  }
}

async function metric(name: string, labels: string): Promise<number> {
  const text = (await get(platform?.url ?? '', '/metrics')).text;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (labels !== '' && !line.includes(labels))) continue;
    if (line.slice(name.length, name.length + 1) !== '{' && line.slice(name.length, name.length + 1) !== ' ') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const mb = (n: number): string => `${(n / MiB).toFixed(0)} MB`;

it('1 GB written to stdout leaves the gateway within 50 MB of its RSS; the logs stay within their cap and count what they dropped', { timeout: 600_000 }, async () => {
  await log.run(
    'bad input',
    'a function writes 1 GB to stdout (1 KiB lines), hearth up at --log-level info',
    "the caller gets its answer; the gateway's RSS stays within 50 MB of where it started; NAME.log files within their cap; the dropped bytes counted",
    async (rec) => {
      const url = platform?.url ?? '';
      rec.tried();
      // Warm: the instance exists and has written something before the baseline.
      expect((await post(url, invokePath('flood'), JSON.stringify({ mib: 1 }))).status).toBe(200);
      const before = rssBytes(pid());
      const { result, peak } = await peakRss(post(url, invokePath('flood'), JSON.stringify({ mib: 1024 })));
      const after = rssBytes(pid());
      expect(result.status).toBe(200);
      expect(JSON.parse(result.text)).toEqual({ wrote: 1024 });
      rec.accepted(1);
      rec.observe(`answered 200; gateway RSS ${mb(before)} before, peak ${mb(peak)}, ${mb(after)} after`);
      expect(peak - before).toBeLessThan(50 * MiB);
      expect(after - before).toBeLessThan(50 * MiB);

      const logDir = join(cache, 'hearth', 'local', 'logs');
      const files = readdirSync(logDir).filter((f) => f.startsWith('flood.log'));
      const sizes = files.map((f) => statSync(join(logDir, f)).size);
      expect(files.sort()).toEqual(['flood.log', 'flood.log.1']);
      for (const s of sizes) expect(s).toBeLessThanOrEqual(LOG_FILE_BYTES);
      const kept = sizes.reduce((a, b) => a + b, 0);
      const dropped = await metric('hearth_function_log_dropped_bytes_total', 'function="flood"');
      rec.observe(`${files.join(', ')} hold ${mb(kept)} (cap ${mb(LOG_FILE_BYTES * LOG_FILES)}); dropped bytes counted: ${mb(dropped)}`);
      // Every byte written (1025 MiB of 1 KiB lines with the warm-up, each stamped with its time) is either kept or counted as dropped.
      expect(kept + dropped).toBe(1025 * MiB + 1025 * 1024 * STAMP_BYTES);
    },
  );
});

it('a line over 64 KiB is cut in the log, and the cut bytes counted', { timeout: 60_000 }, async () => {
  const url = platform?.url ?? '';
  const before = await metric('hearth_function_log_dropped_bytes_total', 'function="flood",reason="cut"');
  expect((await post(url, invokePath('flood'), JSON.stringify({ long: 100_000 }))).status).toBe(200);
  const log = join(cache, 'hearth', 'local', 'logs', 'flood.log');
  const want = `${'L'.repeat(64 * 1024)} [hearth: ${100_000 - 64 * 1024} bytes cut]\n`;
  await waitFor('the cut line in the log', async () => readFileSync(log, 'utf8').endsWith(want), 10_000);
  expect((await metric('hearth_function_log_dropped_bytes_total', 'function="flood",reason="cut"')) - before).toBe(100_000 - 64 * 1024);
});

it('600 async events with 1 MB results stay under the queue cap; evicted records answer 404, nothing accepted is lost', { timeout: 600_000 }, async () => {
  await log.run(
    'bad input',
    'memory queue: 600 Event invocations each answered with a 1 MB result, --queue-max-bytes 64 MiB',
    'every event accepted runs; bytes held stay under the cap and the RSS follows it; the oldest finished records evicted (404 naming the bound), the newest readable',
    async (rec) => {
      const url = platform?.url ?? '';
      // Warm the function first, so the baseline includes its instance.
      expect((await post(url, invokePath('big'), '{}')).status).toBe(200);
      const before = rssBytes(pid());
      const ids: string[] = [];
      const enqueueAll = async (): Promise<void> => {
        for (let i = 0; i < 600; i++) {
          rec.tried();
          const a = await post(url, invokePath('big'), JSON.stringify({ i }), { 'x-amz-invocation-type': 'Event' });
          expect(a.status).toBe(202);
          rec.accepted(1);
          ids.push(String(a.headers['x-amzn-requestid']));
        }
        await waitFor('600 events processed', async () => (await metric('hearth_queue_processed_total', 'function="big"')) >= 600, 300_000, 500);
      };
      const { peak } = await peakRss(enqueueAll());
      const held = await metric('hearth_queue_memory_bytes', '');
      const evicted = await metric('hearth_queue_memory_evictions_total', '');
      expect(await metric('hearth_queue_processed_total', 'function="big"')).toBe(600);
      expect(held).toBeLessThanOrEqual(QUEUE_BYTES);
      expect(evicted).toBeGreaterThan(0);
      // What stays is what the queue holds: the copies each result went
      // through on its way are garbage V8 returns once allocation calms down
      // (its memory reducer), which an unbounded queue's records never are.
      const started = Date.now();
      let after = rssBytes(pid());
      try {
        await waitFor('the RSS to settle within the cap', async () => (after = rssBytes(pid())) - before < QUEUE_BYTES + 50 * MiB, 60_000, 1000);
      } finally {
        rec.observe(
          `600 accepted and processed; gateway RSS ${mb(before)} before, peak ${mb(peak)} while processing, ${mb(after)} ${((Date.now() - started) / 1000).toFixed(0)} s after; ` +
            `queue holds ${mb(held)} (cap ${mb(QUEUE_BYTES)}); ${evicted} records evicted`,
        );
      }

      const first = await get(url, `/invocations/${ids[0] ?? ''}`);
      expect(first.status).toBe(404);
      expect(first.headers['x-amzn-errortype']).toBe('ResourceNotFoundException');
      expect(first.text).toContain('evicted');
      const last = await get(url, `/invocations/${ids[ids.length - 1] ?? ''}`);
      expect(last.status).toBe(200);
      const record = JSON.parse(last.text) as { status: string; result?: { payload: string } };
      expect(record.status).toBe('succeeded');
      expect(record.result?.payload.length).toBe(1024 * 1024 + 2);
      rec.lost(600 - (await metric('hearth_queue_processed_total', 'function="big",outcome="succeeded"')));
    },
  );
});
