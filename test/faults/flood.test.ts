// A slow consumer under a flood: a function that takes 100 ms with room for
// two at once receives hundreds of async events in bursts, and sync callers
// beside them. Every event is accepted and runs; sync callers get a result
// or a 429 throttle, never a crash or a silent drop.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { py, startPlatform } from '../helpers/platform.js';
import { FaultLog } from './collector.js';
import { invokePath, post, terminalRecords } from './support.js';

const log = FaultLog.forFile(import.meta.url);
let platform: Awaited<ReturnType<typeof startPlatform>>;
const EVENTS = 400;

beforeAll(async () => {
  platform = await startPlatform(
    { slow: { ...py('import time\ndef handler(event, context):\n    time.sleep(0.1)\n    return event\n'), timeoutSeconds: 5, reservedConcurrency: 2, scaling: { maxInstances: 2 } } },
    { retryTimeScale: 0.01 },
  );
}, 120_000);

afterAll(async () => {
  await platform?.close();
  log.flush();
});

it('accepts and runs every event of a flood while sync callers are answered or throttled', { timeout: 180_000 }, async () => {
  await log.run('fault', `slow consumer (100 ms, 2 at once) under a flood of ${EVENTS} async events in bursts of 100, with 50 sync calls beside`, 'every event 202 and succeeded eventually; each sync call 200 or 429 TooManyRequestsException', async (rec) => {
    const accepted: string[] = [];
    const syncStatuses = new Map<string, number>();
    const sync = (async () => {
      for (let i = 0; i < 50; i++) {
        const a = await post(platform.url, invokePath('slow'), '{"sync":true}');
        const k = a.status === 200 ? '200' : `${a.status} ${String(a.headers['x-amzn-errortype'])}`;
        syncStatuses.set(k, (syncStatuses.get(k) ?? 0) + 1);
      }
    })();
    for (let b = 0; b < EVENTS / 100; b++) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => post(platform.url, invokePath('slow'), JSON.stringify({ n: b * 100 + i }), { 'x-amz-invocation-type': 'Event' })));
      for (const a of answers) {
        expect(a.status).toBe(202);
        accepted.push(String(a.headers['x-amzn-requestid']));
      }
    }
    await sync;
    rec.tried(EVENTS + 50);
    rec.accepted(accepted.length);
    const backlog = await platform.queue.backlog('slow');
    const records = await terminalRecords(platform.url, accepted, 150_000);
    const notSucceeded = accepted.filter((id) => records.get(id)?.status !== 'succeeded');
    rec.lost(accepted.filter((id) => !records.has(id)).length);
    rec.observe(`${accepted.length}/${EVENTS} accepted (backlog ${backlog.lag + backlog.pending + backlog.delayed} right after the flood), ${accepted.length - notSucceeded.length} succeeded; sync: ${[...syncStatuses].map(([k, n]) => `${n}× ${k}`).join(', ')}`);
    expect(notSucceeded).toEqual([]);
    for (const k of syncStatuses.keys()) expect(['200', '429 TooManyRequestsException']).toContain(k);
  });
});
