// Schedules firing on the embedded platform with real Python runtimes: two
// gateways sharing one real redis-server fire a 2-second schedule once per
// tick between them, a paused schedule fires nothing, and a single gateway
// with the in-memory queue fires on its own. Real time passes: the handler
// writes each event's tick time to a file, and the test counts the ticks of
// a 10-second window once every event of that window has run.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { py, startPlatform } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const HANDLER = `import json, os

def handler(event, context):
    with open(os.environ['TICKS_FILE'], 'a') as f:
        f.write(json.dumps({'time': event.get('time'), 'type': event.get('detail-type'), 'source': event.get('source'), 'resources': event.get('resources')}) + '\\n')
    return {}
`;

interface Line {
  time: string;
  type: string;
  source: string;
  resources: string[];
}

function ticker(file: string, schedule: { cron: string; enabled?: boolean }): FunctionSpecInput {
  return { ...py(HANDLER), env: [{ name: 'TICKS_FILE', value: file }], schedules: [{ name: 'every-2s', ...schedule }] };
}

function lines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

/** The ticks run for the window [from, from + ms), once the first tick after it has run too (the queue is processed in order). */
async function ticksIn(file: string, from: number, ms: number): Promise<Line[]> {
  const end = from + ms;
  await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
  await waitFor('the first tick after the window to run', () => lines(file).some((l) => Date.parse(l.time) >= end), 20_000, 100);
  return lines(file).filter((l) => Date.parse(l.time) >= from && Date.parse(l.time) < end);
}

const dir = mkdtempSync(join(tmpdir(), 'hearth-ticks-'));
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('schedules on the embedded platform', () => {
  it('two gateways sharing Redis fire a 2 s schedule 5 ± 1 times in 10 s between them, each tick once; a paused one fires nothing', async () => {
    const redis: RedisServer = await startRedis();
    closers.push(() => redis.stop());
    const fired = join(dir, 'shared.jsonl');
    const paused = join(dir, 'paused.jsonl');
    const fns = { ticker: ticker(fired, { cron: '*/2 * * * * *' }), paused: ticker(paused, { cron: '*/2 * * * * *', enabled: false }) };
    // No sandbox: the ticker reports its ticks in a file of the host's.
    const a = await startPlatform(fns, { redisUrl: redis.url, backend: { sandbox: false } });
    closers.push(() => a.close());
    const b = await startPlatform(fns, { redisUrl: redis.url, backend: { sandbox: false } });
    closers.push(() => b.close());

    const from = Date.now();
    const window = await ticksIn(fired, from, 10_000);
    expect(window.length).toBeGreaterThanOrEqual(4);
    expect(window.length).toBeLessThanOrEqual(6);
    const times = window.map((l) => l.time);
    expect(new Set(times).size, `each tick once: ${times.join(', ')}`).toBe(times.length);
    for (const t of times) expect(Date.parse(t) % 2000).toBe(0);
    expect(window[0]).toMatchObject({ type: 'Scheduled Event', source: 'aws.events', resources: ['arn:aws:events:us-east-1:000000000000:rule/ticker-every-2s'] });
    expect(lines(paused)).toEqual([]);

    // Each gateway counts the ticks it sent; their sum is the runs (read around them, as ticks go on).
    const sent = async () => {
      let n = 0;
      for (const url of [a.url, b.url]) {
        const text = await (await fetch(`${url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('hearth_schedule_invocations_total{') && l.includes('function="ticker"'));
        n += line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return n;
    };
    const before = await sent();
    const runs = await waitFor('every counted tick to run', () => (lines(fired).length >= before ? lines(fired).length : undefined), 20_000, 100);
    const after = await sent();
    expect(runs).toBeLessThanOrEqual(after);
    expect(after - before).toBeLessThanOrEqual(2);
  }, 90_000);

  it('a single gateway with the in-memory queue fires too', async () => {
    const file = join(dir, 'memory.jsonl');
    const p = await startPlatform({ ticker: ticker(file, { cron: '*/2 * * * * *' }) }, { backend: { sandbox: false } });
    closers.push(() => p.close());
    expect(p.queue.kind).toBe('memory');
    const window = await ticksIn(file, Date.now(), 6_000);
    expect(window.length).toBeGreaterThanOrEqual(2);
    expect(window.length).toBeLessThanOrEqual(4);
    expect(new Set(window.map((l) => l.time)).size).toBe(window.length);
  }, 60_000);
});
