// The scheduler against the real in-memory queue and a fake clock: no timer
// runs by itself, time moves only when the test says so.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema, type HearthFunction, type Schedule } from '../../src/api/function.js';
import { createScheduleMetrics } from '../../src/metrics/schedules.js';
import { createQueue } from '../../src/queue/index.js';
import { QueueUnavailableError, type EnqueueRequest, type EnqueueResult, type Queue } from '../../src/queue/queue.js';
import { tickTime } from '../../src/schedules/next-tick.js';
import { Scheduler, tickKey } from '../../src/schedules/scheduler.js';
import { FakeTime } from './fake-time.js';

function fnWith(name: string, schedules: unknown[]): HearthFunction {
  return FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name },
    spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } }, schedules },
  });
}

const T0 = Date.parse('2026-01-01T00:00:00.500Z');
const ARN = (n: string) => `arn:aws:lambda:us-east-1:000000000000:function:${n}`;

interface Sent {
  req: EnqueueRequest;
  res: EnqueueResult;
  event: Record<string, unknown>;
}

/** The real memory queue, with what was enqueued written down. */
function recordingQueue(real: Queue, failFirst = 0): Pick<Queue, 'enqueue'> & { sent: Sent[]; taken: () => Sent[] } {
  const sent: Sent[] = [];
  let failures = failFirst;
  return {
    sent,
    taken: () => sent.filter((s) => !s.res.duplicate),
    async enqueue(req) {
      if (failures-- > 0) throw new QueueUnavailableError('redis is not reachable');
      const res = await real.enqueue(req);
      sent.push({ req, res, event: JSON.parse(req.payload.toString('utf8')) as Record<string, unknown> });
      return res;
    },
  };
}

const open: { stop(): Promise<void> }[] = [];
const queues: Queue[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()));
  await Promise.all(queues.splice(0).map((q) => q.close()));
});

function setup(schedules: unknown[], opts: { failFirst?: number; maxLatenessMs?: number; time?: FakeTime; queue?: Queue } = {}) {
  const time = opts.time ?? new FakeTime(T0);
  const catalog = new MemoryCatalog();
  catalog.set(fnWith('f', schedules));
  const real = opts.queue ?? createQueue();
  if (!opts.queue) queues.push(real);
  const queue = recordingQueue(real, opts.failFirst);
  const metrics = createScheduleMetrics(new Registry());
  let ids = 0;
  const start = () => {
    const s = new Scheduler({
      catalog, queue, functionArn: ARN, clock: time, timers: time, metrics, newId: () => `id-${++ids}`, retryDelayMs: 1000,
      ...(opts.maxLatenessMs !== undefined ? { maxLatenessMs: opts.maxLatenessMs } : {}),
    });
    s.start();
    open.push(s);
    return s;
  };
  return { time, catalog, queue, real, metrics, start, scheduler: start() };
}

const times = (sent: Sent[]) => sent.map((s) => s.event.time);
const every2s: Schedule = { name: 'tick', cron: '*/2 * * * * *', enabled: true };

describe('Scheduler', () => {
  it('enqueues an Event per tick of a six-field schedule, with the scheduled event and a key per tick', async () => {
    const c = setup([every2s]);
    await c.time.advance(10_000);
    expect(times(c.queue.taken())).toEqual(['2026-01-01T00:00:02Z', '2026-01-01T00:00:04Z', '2026-01-01T00:00:06Z', '2026-01-01T00:00:08Z', '2026-01-01T00:00:10Z']);
    const first = c.queue.sent[0];
    expect(first?.req).toMatchObject({ functionName: 'f', idempotencyKey: tickKey('tick', Date.parse('2026-01-01T00:00:02Z')) });
    expect(first?.event).toEqual({
      version: '0', id: 'id-1', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000',
      time: '2026-01-01T00:00:02Z', region: 'us-east-1', resources: ['arn:aws:events:us-east-1:000000000000:rule/f-tick'], detail: {},
    });
    expect((await c.real.backlog('f')).lag).toBe(5);
    expect((await c.metrics.invocations.get()).values).toEqual([{ labels: { function: 'f', schedule: 'tick' }, value: 5 }]);
  });

  it('sends the payload as given instead, read at the tick', async () => {
    const c = setup([{ ...every2s, payload: { job: 'cleanup' } }]);
    await c.time.advance(2_000);
    c.catalog.set(fnWith('f', [{ ...every2s, payload: { job: 'vacuum' } }]));
    await c.time.advance(2_000);
    expect(c.queue.sent.map((s) => s.event)).toEqual([{ job: 'cleanup' }, { job: 'vacuum' }]);
  });

  it('in a time zone: 09:00 in Berlin before and after the spring change', async () => {
    const c = setup([{ name: 'morning', cron: '0 9 * * *', timezone: 'Europe/Berlin' }], { time: new FakeTime(Date.parse('2026-03-27T12:00:00Z')) });
    await c.time.advance(3 * 86_400_000);
    expect(times(c.queue.taken())).toEqual(['2026-03-28T08:00:00Z', '2026-03-29T07:00:00Z', '2026-03-30T07:00:00Z']);
  });

  it('waits longer than a timer can in steps (a yearly schedule)', async () => {
    const c = setup([{ name: 'new-year', cron: '0 0 1 1 *' }]);
    expect(c.scheduler.armed().get('f/new-year')).toBe(Date.parse('2027-01-01T00:00:00Z'));
    await c.time.advance(364 * 86_400_000);
    expect(c.queue.sent).toEqual([]);
    await c.time.advance(86_400_000);
    expect(times(c.queue.sent)).toEqual(['2027-01-01T00:00:00Z']);
  });

  it('does not replay ticks missed while no gateway ran: after a start, the next tick after now', async () => {
    const time = new FakeTime(T0);
    const queue = createQueue();
    queues.push(queue);
    const before = setup([{ name: 'minutely', cron: '* * * * *' }], { time, queue });
    await time.advance(60_000);
    await before.scheduler.stop();
    time.jump(3_600_000); // an hour with no gateway
    const after = setup([{ name: 'minutely', cron: '* * * * *' }], { time, queue });
    expect(after.scheduler.armed().get('f/minutely')).toBe(Date.parse('2026-01-01T01:02:00Z'));
    await time.advance(60_000);
    expect(times(before.queue.sent)).toEqual(['2026-01-01T00:01:00Z']);
    expect(times(after.queue.sent)).toEqual(['2026-01-01T01:02:00Z']);
  });

  it('after a stall sends the tick it was waiting for if barely late, lets it pass if too late, and never catches up', async () => {
    const c = setup([every2s], { maxLatenessMs: 60_000 });
    await c.time.advance(1_000); // 00:00:01.5, waiting for :02
    c.time.jump(5_000); // stalled until :06.5
    await c.time.advance(0);
    expect(times(c.queue.sent)).toEqual(['2026-01-01T00:00:02Z']);
    expect(c.scheduler.armed().get('f/tick')).toBe(Date.parse('2026-01-01T00:00:08Z'));
    c.time.jump(120_000); // stalled past the lateness bound
    await c.time.advance(0);
    expect(times(c.queue.sent)).toEqual(['2026-01-01T00:00:02Z']);
    expect((await c.metrics.missed.get()).values[0]?.value).toBe(1);
    expect(c.scheduler.armed().get('f/tick')).toBe(Date.parse('2026-01-01T00:02:08Z'));
  });

  it('two replicas over one queue: each tick is taken once', async () => {
    const time = new FakeTime(T0);
    const queue = createQueue();
    queues.push(queue);
    const a = setup([every2s], { time, queue });
    const b = setup([every2s], { time, queue });
    await time.advance(10_000);
    expect(a.queue.sent).toHaveLength(5);
    expect(b.queue.sent).toHaveLength(5);
    const taken = [...a.queue.taken(), ...b.queue.taken()];
    expect(times(taken).sort()).toEqual(['2026-01-01T00:00:02Z', '2026-01-01T00:00:04Z', '2026-01-01T00:00:06Z', '2026-01-01T00:00:08Z', '2026-01-01T00:00:10Z']);
    expect((await queue.backlog('f')).lag).toBe(5);
    const fired = [...(await a.metrics.invocations.get()).values, ...(await b.metrics.invocations.get()).values].reduce((n, v) => n + v.value, 0);
    expect(fired).toBe(5);
  });

  it('retries a tick while the queue is unreachable, and takes it once', async () => {
    const c = setup([every2s], { failFirst: 2 });
    await c.time.advance(2_000);
    expect(c.queue.sent).toEqual([]);
    await c.time.advance(2_000); // two retries a second apart (the second at :04, beside the :04 tick)
    expect(times(c.queue.taken()).sort()).toEqual(['2026-01-01T00:00:02Z', '2026-01-01T00:00:04Z']);
  });

  it.each([
    ['enabled: false arms nothing', [{ ...every2s, enabled: false }], 0],
    ['no schedules', [], 0],
    ['one of two paused', [every2s, { name: 'paused', cron: '* * * * * *', enabled: false }], 5],
  ])('%s', async (_what, schedules, n) => {
    const c = setup(schedules);
    await c.time.advance(10_000);
    expect(c.queue.sent).toHaveLength(n);
  });

  it('follows the catalog: pause, resume, a new expression, removal', async () => {
    const c = setup([every2s]);
    await c.time.advance(2_000); // :02
    c.catalog.set(fnWith('f', [{ ...every2s, enabled: false }]));
    expect(c.scheduler.armed().size).toBe(0);
    await c.time.advance(4_000);
    c.catalog.set(fnWith('f', [every2s])); // resumed at :06.5: next tick :08
    await c.time.advance(2_000);
    c.catalog.set(fnWith('f', [{ ...every2s, cron: '*/5 * * * * *' }])); // at :08.5: next :10
    await c.time.advance(5_000);
    c.catalog.delete('f');
    expect(c.scheduler.armed().size).toBe(0);
    await c.time.advance(10_000);
    expect(times(c.queue.sent)).toEqual(['2026-01-01T00:00:02Z', '2026-01-01T00:00:08Z', '2026-01-01T00:00:10Z']);
    c.catalog.set(fnWith('g', [every2s]));
    expect([...c.scheduler.armed().keys()]).toEqual(['g/tick']);
  });

  it('an unrelated change keeps a schedule\'s timer', async () => {
    const c = setup([every2s]);
    const before = c.scheduler.armed().get('f/tick');
    c.catalog.set(fnWith('f', [every2s, { name: 'other', cron: '0 * * * *' }]));
    expect(c.scheduler.armed().get('f/tick')).toBe(before);
    expect(tickTime(c.scheduler.armed().get('f/other') ?? 0)).toBe('2026-01-01T01:00:00Z');
  });

  it('stop disarms everything', async () => {
    const c = setup([every2s]);
    await c.scheduler.stop();
    await c.time.advance(10_000);
    expect(c.queue.sent).toEqual([]);
  });
});
