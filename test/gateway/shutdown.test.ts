// A gateway leaving under load loses no call. Two `hearth up` gateways (child
// processes, one Redis) stand behind a TCP balancer that sends new
// connections only to gateways whose /readyz answers 200, as a Service's
// endpoints do; 8 kept-alive undici clients call a Python function through
// it and never retry. Gateway A gets SIGTERM with slow sync calls in flight
// and async events it has read but whose instances are still starting:
// /readyz turns 503 at once, A keeps serving through its shutdown delay with
// every answer saying Connection: close, the slow calls complete with 200,
// the events go back to the group and B runs each once, long before any
// visibility timeout, and no client sees an error.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQueue } from '../../src/queue/index.js';
import type { Queue } from '../../src/queue/queue.js';
import { NO_SANDBOX_ENV, startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { py, writeFunctions } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startTcpBalancer, type TcpBalancer } from '../helpers/tcp-balancer.js';
import { waitFor } from '../helpers/wait.js';

const DELAY_SECONDS = 2;
const invoke = (fn: string) => `/2015-03-31/functions/${fn}/invocations`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let runsFile: string;
let redis: RedisServer;
let queue: Queue;
let balancer: TcpBalancer | undefined;
const children: ChildPlatform[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-shutdown-'));
  runsFile = join(dir, 'runs.txt');
  writeFileSync(runsFile, '');
  const fns = join(dir, 'functions');
  mkdirSync(fns);
  writeFunctions(fns, {
    hello: { ...py('def handler(event, context):\n    return {"ok": True}\n'), scaling: { minInstances: 2, maxInstances: 4 } },
    slow: { ...py('import time\ndef handler(event, context):\n    time.sleep(3)\n    return {"slept": 3}\n'), timeoutSeconds: 10, scaling: { minInstances: 2, maxInstances: 2 } },
    // A 3 s init: events read while instances start wait in the dispatcher, not yet sent.
    events: {
      ...py(`import time\ntime.sleep(3)\ndef handler(event, context):\n    with open(${JSON.stringify(runsFile)}, "a") as f:\n        f.write(context.aws_request_id + "\\n")\n    return {"ran": True}\n`),
      timeoutSeconds: 10,
      scaling: { maxInstances: 4 },
    },
  });
  redis = await startRedis();
  queue = createQueue({ redisUrl: redis.url });
  // No sandbox: the events function notes its runs in a file of the host's.
  const start = (extra: string[]) => startChildPlatform(['--dir', fns, '--port', '0', '--redis-url', redis.url, '--log-level', 'info', ...extra], 90_000, NO_SANDBOX_ENV);
  children.push(...(await Promise.all([start(['--shutdown-delay-seconds', String(DELAY_SECONDS)]), start([])])));
}, 120_000);

afterAll(async () => {
  await balancer?.stop();
  for (const c of children) c.killAll();
  await queue?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Call {
  sentAt: number;
  /** When the answer's headers reached the client: the gateway chose its Connection header before then. */
  answeredAt?: number;
  status?: number;
  connectionClose?: boolean;
  error?: string;
}

/** One kept-alive connection per client, calls back to back with a short pause, no retries. */
function load(origin: string, clients: number, fn: string): { calls: Call[]; stop: () => Promise<void> } {
  const calls: Call[] = [];
  let stopping = false;
  const loops = Array.from({ length: clients }, async (_, c) => {
    const client = new Client(origin, { keepAliveTimeout: 30_000 });
    for (let n = 0; !stopping; n++) {
      const call: Call = { sentAt: Date.now() };
      calls.push(call);
      try {
        const res = await client.request({ path: invoke(fn), method: 'POST', body: JSON.stringify({ c, n }), headersTimeout: 30_000, bodyTimeout: 30_000 });
        call.answeredAt = Date.now();
        await res.body.text();
        call.status = res.statusCode;
        call.connectionClose = String(res.headers.connection ?? '').toLowerCase() === 'close';
      } catch (err) {
        call.error = (err as { code?: string }).code ?? (err as Error).message;
      }
      await sleep(20);
    }
    await client.close();
  });
  return {
    calls,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

/** The shutdown log lines of a child, in order, with their fields. */
function shutdownLines(logs: string): Array<{ msg: string; [k: string]: unknown }> {
  return logs
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string })
    .filter((l) => l.msg.startsWith('shutdown:') || l.msg.startsWith('queue consumer'));
}

it('SIGTERM: readiness fails at once, calls keep being answered with Connection: close, in-flight calls finish, held events run elsewhere once, no client sees an error', { timeout: 120_000 }, async () => {
  const [a, b] = children as [ChildPlatform, ChildPlatform];
  balancer = await startTcpBalancer([a.url, b.url]);
  await waitFor('both gateways ready behind the balancer', () => balancer?.ready().length === 2, 10_000);

  const steady = load(balancer.url, 8, 'hello');
  await waitFor('calls answered through both gateways', () => steady.calls.filter((c) => c.status === 200).length >= 40, 30_000);

  // Slow sync calls on A itself, in flight when it is told to stop.
  const slow = [0, 1].map(async () => {
    const res = await request(`${a.url}${invoke('slow')}`, { method: 'POST', body: '{}', headersTimeout: 30_000, bodyTimeout: 30_000 });
    return { status: res.statusCode, body: await res.body.text() };
  });
  // Async events: each gateway takes as many as the function can run (4) and waits for its instances' 3 s init.
  const events: string[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await request(`${a.url}${invoke('events')}`, { method: 'POST', body: JSON.stringify({ i }), headers: { 'x-amz-invocation-type': 'Event' } });
    await res.body.dump();
    expect(res.statusCode).toBe(202);
    events.push(String(res.headers['x-amzn-requestid']));
  }
  await waitFor('both gateways hold four events each', async () => (await queue.backlog('events')).pending === 8, 10_000);
  await sleep(300);

  const exited = new Promise<number | null>((resolve) => a.child.once('exit', (code) => resolve(code)));
  const signalledAt = Date.now();
  a.child.kill('SIGTERM');

  // Readiness fails at once: the first probe after the signal reaches the process, within a second.
  const notReady = await waitFor('A /readyz 503', async () => {
    const r = await request(`${a.url}/readyz`, { reset: true }).catch(() => undefined);
    if (!r) return undefined;
    await r.body.dump();
    return r.statusCode === 503 ? Date.now() : undefined;
  }, 1_000, 10);
  expect(notReady - signalledAt).toBeLessThan(1_000);

  // During the delay A still answers, and says the connection will close.
  await sleep(200);
  const during = new Client(a.url);
  const res = await during.request({ path: invoke('hello'), method: 'POST', body: '{}' });
  expect(await res.body.text()).toBe('{"ok": true}');
  expect(res.statusCode).toBe(200);
  expect(res.headers.connection).toBe('close');
  await during.close();

  // Past the delay (the listener closes) and the slow calls' end.
  await sleep(DELAY_SECONDS * 1000 + 2_000);
  await steady.stop();
  for (const s of await Promise.all(slow)) expect(s).toEqual({ status: 200, body: '{"slept": 3}' });
  // It leaves once its calls are answered, not when idle kept-alive connections would time out (72 s).
  const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
  expect(code).toBe(0);

  const errors = steady.calls.filter((c) => c.error !== undefined || c.status !== 200);
  expect(errors).toEqual([]);
  expect(steady.calls.filter((c) => c.sentAt > signalledAt + DELAY_SECONDS * 1000).length).toBeGreaterThan(0);
  // Keep-alive held before the signal; after it A's answers told clients to move. A call sent just
  // before the signal can be answered after it (with close), so "before" is judged by the answer's arrival.
  expect(steady.calls.filter((c) => c.answeredAt !== undefined && c.answeredAt < signalledAt && c.connectionClose).length).toBe(0);
  expect(steady.calls.filter((c) => c.sentAt >= signalledAt && c.connectionClose).length).toBeGreaterThan(0);
  expect(balancer.refused()).toBe(0);

  // A's phases, in order; what it held went back to the group.
  const lines = shutdownLines(a.logs());
  const phases = ['shutdown: /readyz answers 503', 'shutdown: listener closed', 'shutdown: every call in flight answered', 'shutdown: gateway stopped'];
  const at = phases.map((m) => lines.findIndex((l) => l.msg.startsWith(m)));
  expect(at.every((i) => i >= 0), JSON.stringify(lines)).toBe(true);
  expect(at).toEqual([...at].sort((x, y) => x - y));
  expect(lines.some((l) => l.msg.startsWith('queue consumer stopping'))).toBe(true);
  const stopped = lines.find((l) => l.msg === 'queue consumer stopped') as { handedBack?: number } | undefined;
  expect(stopped?.handedBack, JSON.stringify(lines)).toBeGreaterThanOrEqual(1);

  // B runs the handed-back events (its reclaim passes every second; their visibility timeout is 70 s), each once.
  const records = await waitFor('every event succeeded', async () => {
    const rs = await Promise.all(events.map((id) => queue.record(id)));
    return rs.every((r) => r?.status === 'succeeded') ? rs : undefined;
  }, 30_000, 200);
  expect(records.map((r) => r?.attempts)).toEqual(events.map(() => 1));
  const runs = readFileSync(runsFile, 'utf8').split('\n').filter(Boolean);
  expect([...runs].sort()).toEqual([...events].sort());
});
