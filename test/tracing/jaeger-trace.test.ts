// Tracing end to end: `hearth up` (a child process, with the memory queue and
// with a real redis-server) exporting to a real Jaeger v2 over OTLP/HTTP. One
// async invocation sent with a caller's traceparent must be ONE trace in
// Jaeger, the caller's, with the gateway's server span a child of the
// caller's span and the queue, dispatch, agent and invocation spans each a
// child of the one before; the runtime must see that trace as
// _X_AMZN_TRACE_ID and TRACEPARENT, naming the invocation span.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { decodeMessages } from '../../src/streaming/event-stream.js';
import { py, writeFunctions } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { buildJaeger, startJaeger, type Jaeger, type JaegerSpan, type JaegerTrace } from '../servers/jaeger.js';

// The function reports the trace it was handed.
const TRACE_ECHO = `import os
def handler(event, context):
    headers = event.get("headers") or {}
    return {"xray": os.environ.get("_X_AMZN_TRACE_ID"), "traceparent": os.environ.get("TRACEPARENT"), "eventTrace": headers.get("x-amzn-trace-id")}
`;

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** The spans Hearth records for one async invocation, in parent order. */
const CHAIN = ['POST /2015-03-31/functions/:name/invocations', 'queue enqueue', 'queue wait', 'dispatch', 'agent', 'invocation'] as const;

const built = await buildJaeger();
const skip = 'skip' in built ? built.skip : undefined;

function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

function parentOf(span: JaegerSpan): string | undefined {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
}

/** Polls (bounded) until `get` yields something `done` accepts; returns the last value either way. */
async function poll<T>(get: () => Promise<T>, done: (v: T) => boolean, tries = 200, everyMs = 100): Promise<T> {
  let v = await get();
  for (let i = 0; i < tries && !done(v); i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    v = await get();
  }
  return v;
}

async function finishedRecord(url: string, requestId: string): Promise<{ status: string; result?: { payload: string } }> {
  return poll(
    async () => (await (await fetch(`${url}/invocations/${requestId}`)).json()) as { status: string; result?: { payload: string } },
    (r) => r.status === 'succeeded' || r.status === 'failed' || r.status === 'dead-lettered',
  );
}

describe.skipIf(skip !== undefined)('traces in Jaeger', () => {
  let jaeger: Jaeger;
  let redis: RedisServer | undefined;
  const dirs: string[] = [];
  const ups: ChildPlatform[] = [];

  beforeAll(async () => {
    if ('bin' in built) jaeger = await startJaeger(built.bin);
    redis = await startRedis();
  }, 120_000);

  afterAll(async () => {
    for (const up of ups) {
      await up.crash();
      up.killAll();
    }
    await jaeger?.stop();
    await redis?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function up(queue: 'memory' | 'redis', extraEnv: Record<string, string> = {}): Promise<ChildPlatform> {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-tracing-'));
    dirs.push(dir);
    writeFunctions(dir, { 'trace-echo': { ...py(TRACE_ECHO), url: {} } });
    const env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      // Spans leave within 100 ms rather than the SDK's 5 s, so the test need not stop the platform to see them.
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...extraEnv,
    };
    const redisArgs = queue === 'redis' && redis ? ['--redis-url', redis.url] : [];
    const p = await startChildPlatform(['--dir', dir, '--port', '0', ...redisArgs], 60_000, env);
    ups.push(p);
    return p;
  }

  it.each(['memory', 'redis'] as const)('continues the caller traceparent through gateway, queue (%s), dispatch, agent and invocation', async (queue) => {
    const platform = await up(queue);
    const traceId = hex(16);
    const callerSpan = hex(8);
    const res = await fetch(`${platform.url}/2015-03-31/functions/trace-echo/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: '{}',
    });
    expect(res.status).toBe(202);
    const requestId = res.headers.get('x-amzn-requestid') ?? '';
    const record = await finishedRecord(platform.url, requestId);
    expect(record.status).toBe('succeeded');
    const seen = JSON.parse(record.result?.payload ?? '{}') as { xray?: string; traceparent?: string };

    // Every span of the chain arrives (each is exported when it ends; the gateway's ends with the 202).
    const trace = await poll(
      () => jaeger.trace(traceId),
      (t) => t !== undefined && CHAIN.every((name) => t.spans.some((s) => s.operationName === name)),
    );
    expect(trace, `Jaeger has no trace ${traceId}: ${jaeger.output()}`).toBeDefined();
    const spans = (trace as JaegerTrace).spans;
    const byName = new Map(CHAIN.map((name) => [name, spans.filter((s) => s.operationName === name)]));
    for (const name of CHAIN) expect(byName.get(name), name).toHaveLength(1);
    const chain = CHAIN.map((name) => (byName.get(name) as JaegerSpan[])[0] as JaegerSpan);

    // The gateway's server span continues the caller's span; each next span is a child of the one before.
    expect(parentOf(chain[0] as JaegerSpan)).toBe(callerSpan);
    for (let i = 1; i < chain.length; i++) expect(parentOf(chain[i] as JaegerSpan), `${CHAIN[i]}'s parent`).toBe((chain[i - 1] as JaegerSpan).spanID);
    for (const s of chain) expect(s.traceID).toBe(traceId);

    // Who did what: the gateway process's spans, then the agent's.
    const service = (s: JaegerSpan): string => (trace as JaegerTrace).processes[s.processID]?.serviceName ?? '';
    expect(chain.map(service)).toEqual(['hearth-gateway', 'hearth-gateway', 'hearth-gateway', 'hearth-gateway', 'hearth-agent', 'hearth-agent']);
    expect(tag(chain[0] as JaegerSpan, 'http.response.status_code')).toBe(202);
    expect(tag(chain[5] as JaegerSpan, 'faas.invocation_id')).toBe(requestId);
    expect(tag(chain[2] as JaegerSpan, 'messaging.destination.name')).toBe('trace-echo');

    // The runtime was handed the invocation span, in both forms.
    const invocation = chain[5] as JaegerSpan;
    expect(seen.traceparent).toBe(`00-${traceId}-${invocation.spanID}-01`);
    expect(seen.xray).toBe(`Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${invocation.spanID};Sampled=1`);

    // ONE trace: the agent's service has this trace alone, and no span of this request id is in another trace.
    const agentTraces = await jaeger.traces('hearth-agent');
    const mine = agentTraces.filter((t) => t.spans.some((s) => tag(s, 'faas.invocation_id') === requestId));
    expect(mine.map((t) => t.traceID)).toEqual([traceId]);
    // Probes and scrapes are not traced.
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${platform.url}${path}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const gatewayTraces = await jaeger.traces('hearth-gateway');
    expect(gatewayTraces.flatMap((t) => t.spans.map((s) => s.operationName)).filter((n) => /healthz|readyz|metrics/.test(n))).toEqual([]);
    const withRequest = gatewayTraces.filter((t) => t.spans.some((s) => tag(s, 'faas.invocation_id') === requestId || tag(s, 'aws.request_id') === requestId));
    expect(withRequest.map((t) => t.traceID)).toEqual([traceId]);
  }, 120_000);

  it("continues a caller's X-Amzn-Trace-Id on a sync Invoke: the same trace, its Parent the gateway span's parent", async () => {
    const platform = await up('memory');
    const traceId = hex(16);
    const parent = hex(8);
    const res = await fetch(`${platform.url}/2015-03-31/functions/trace-echo/invocations`, {
      method: 'POST',
      headers: { 'x-amzn-trace-id': `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${parent};Sampled=1` },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { xray?: string; traceparent?: string };
    const sync = ['POST /2015-03-31/functions/:name/invocations', 'dispatch', 'agent', 'invocation'];
    const trace = await poll(
      () => jaeger.trace(traceId),
      (t) => t !== undefined && sync.every((name) => t.spans.some((s) => s.operationName === name)),
    );
    const spans = trace?.spans ?? [];
    const chain = sync.map((name) => spans.find((s) => s.operationName === name) as JaegerSpan);
    expect(parentOf(chain[0] as JaegerSpan)).toBe(parent);
    for (let i = 1; i < chain.length; i++) expect(parentOf(chain[i] as JaegerSpan), `${sync[i]}'s parent`).toBe((chain[i - 1] as JaegerSpan).spanID);
    expect(seen.traceparent).toBe(`00-${traceId}-${(chain[3] as JaegerSpan).spanID}-01`);
    expect(seen.xray?.startsWith(`Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};`)).toBe(true);

    // A Root with no Parent: the trace keeps the caller's id, the gateway's span is its root.
    const rootOnly = hex(16);
    const res2 = await fetch(`${platform.url}/2015-03-31/functions/trace-echo/invocations`, { method: 'POST', headers: { 'x-amzn-trace-id': `Root=1-${rootOnly.slice(0, 8)}-${rootOnly.slice(8)}` }, body: '{}' });
    const seen2 = (await res2.json()) as { traceparent?: string };
    expect(seen2.traceparent?.startsWith(`00-${rootOnly}-`)).toBe(true);
    const trace2 = await poll(
      () => jaeger.trace(rootOnly),
      (t) => t !== undefined && t.spans.some((s) => s.operationName === sync[0]),
    );
    expect(parentOf(trace2?.spans.find((s) => s.operationName === sync[0]) as JaegerSpan)).toBeUndefined();
  }, 120_000);

  it('exports what is still buffered when hearth up stops', async () => {
    // Spans would wait ten minutes for their batch: only the shutdown's flush can send them.
    const platform = await up('memory', { OTEL_BSP_SCHEDULE_DELAY: '600000' });
    const traceId = hex(16);
    const res = await fetch(`${platform.url}/2015-03-31/functions/trace-echo/invocations`, { method: 'POST', headers: { traceparent: `00-${traceId}-${hex(8)}-01` }, body: '{}' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await jaeger.trace(traceId)).toBeUndefined();
    const exited = new Promise<number | null>((resolve) => platform.child.once('exit', (code) => resolve(code)));
    platform.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const trace = await poll(
      () => jaeger.trace(traceId),
      (t) => t !== undefined && t.spans.some((s) => s.operationName === 'invocation'),
      50,
    );
    const names = trace?.spans.map((s) => s.operationName);
    expect(names).toEqual(expect.arrayContaining(['POST /2015-03-31/functions/:name/invocations', 'dispatch', 'agent', 'invocation', 'cold start']));
    // The platform's first call started its instance: the runtime's init is a span of the agent's handling.
    const spanNamed = (n: string): JaegerSpan | undefined => trace?.spans.find((s) => s.operationName === n);
    expect(parentOf(spanNamed('cold start') as JaegerSpan)).toBe(spanNamed('agent')?.spanID);
    // No instance was running: the call waited for a slot while one started, under the dispatch span.
    expect(parentOf(spanNamed('slot wait') as JaegerSpan)).toBe(spanNamed('dispatch')?.spanID);
    expect(tag(spanNamed('slot wait') as JaegerSpan, 'hearth.cold_start')).toBe(true);
    expect(tag(spanNamed('invocation') as JaegerSpan, 'faas.coldstart')).toBe(true);
  }, 120_000);

  it('continues a traceparent on InvokeWithResponseStream', async () => {
    const platform = await up('memory');
    const traceId = hex(16);
    const caller = hex(8);
    const res = await fetch(`${platform.url}/2021-11-15/functions/trace-echo/response-streaming-invocations`, { method: 'POST', headers: { traceparent: `00-${traceId}-${caller}-01` }, body: '{}' });
    expect(res.status).toBe(200);
    const { messages } = decodeMessages(Buffer.from(await res.arrayBuffer()));
    const payload = Buffer.concat(messages.filter((m) => m.headers[':event-type'] === 'PayloadChunk').map((m) => m.payload));
    const seen = JSON.parse(payload.toString()) as { traceparent?: string };
    const trace = await poll(
      () => jaeger.trace(traceId),
      (t) => t !== undefined && t.spans.some((s) => s.operationName === 'invocation'),
    );
    const gateway = trace?.spans.find((s) => s.operationName.startsWith('POST /2021-11-15/'));
    expect(parentOf(gateway as JaegerSpan)).toBe(caller);
    expect(seen.traceparent).toBe(`00-${traceId}-${trace?.spans.find((s) => s.operationName === 'invocation')?.spanID ?? ''}-01`);
  }, 120_000);

  it("names a function URL call's new trace in the event's X-Amzn-Trace-Id, as the spans do", async () => {
    const platform = await up('memory');
    const res = await fetch(`${platform.url}/fn/trace-echo/`);
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { xray?: string; traceparent?: string; eventTrace?: string };
    const traceId = /^00-([0-9a-f]{32})-/.exec(seen.traceparent ?? '')?.[1] ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const root = `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
    expect(seen.eventTrace?.startsWith(root)).toBe(true);
    expect(seen.xray?.startsWith(`${root};`)).toBe(true);
    const trace = await poll(
      () => jaeger.trace(traceId),
      (t) => t !== undefined && t.spans.some((s) => s.operationName === 'invocation'),
    );
    const gateway = trace?.spans.find((s) => s.operationName.startsWith('GET /fn/'));
    expect(gateway, JSON.stringify(trace?.spans.map((s) => s.operationName))).toBeDefined();
    expect(parentOf(gateway as JaegerSpan)).toBeUndefined();
  }, 120_000);
});

describe('with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let platform: ChildPlatform | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await platform?.crash();
    platform?.killAll();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("hands the runtime the caller's own traceparent, and the X-Amzn-Trace-Id it names", async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-tracing-off-'));
    writeFunctions(dir, { 'trace-echo': py(TRACE_ECHO) });
    const env = { ...process.env };
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    platform = await startChildPlatform(['--dir', dir, '--port', '0'], 60_000, env);
    const traceId = hex(16);
    const span = hex(8);
    const res = await fetch(`${platform.url}/2015-03-31/functions/trace-echo/invocations`, { method: 'POST', headers: { traceparent: `00-${traceId}-${span}-01` }, body: '{}' });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { xray?: string; traceparent?: string };
    expect(seen.traceparent).toBe(`00-${traceId}-${span}-01`);
    expect(seen.xray).toBe(`Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${span};Sampled=1`);
    // A caller's X-Amzn-Trace-Id reaches the runtime as it came.
    const xray = `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${span};Sampled=0;Lineage=a87bd80c:0`;
    const res2 = await fetch(`${platform.url}/2015-03-31/functions/trace-echo/invocations`, { method: 'POST', headers: { 'x-amzn-trace-id': xray }, body: '{}' });
    expect(((await res2.json()) as { xray?: string }).xray).toBe(xray);
  }, 120_000);
});
