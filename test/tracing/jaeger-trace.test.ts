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
import { py, writeFunctions } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { buildJaeger, startJaeger, type Jaeger, type JaegerSpan, type JaegerTrace } from '../servers/jaeger.js';

// The function reports the trace it was handed.
const TRACE_ECHO = `import os
def handler(event, context):
    return {"xray": os.environ.get("_X_AMZN_TRACE_ID"), "traceparent": os.environ.get("TRACEPARENT")}
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

describe.skipIf(skip !== undefined)('one async invocation is one trace in Jaeger', () => {
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

  async function up(queue: 'memory' | 'redis'): Promise<ChildPlatform> {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-tracing-'));
    dirs.push(dir);
    writeFunctions(dir, { 'trace-echo': py(TRACE_ECHO) });
    const env = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      // Spans leave within 100 ms rather than the SDK's 5 s, so the test need not stop the platform to see them.
      OTEL_BSP_SCHEDULE_DELAY: '100',
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
    const gatewayTraces = await jaeger.traces('hearth-gateway');
    const withRequest = gatewayTraces.filter((t) => t.spans.some((s) => tag(s, 'faas.invocation_id') === requestId || tag(s, 'aws.request_id') === requestId));
    expect(withRequest.map((t) => t.traceID)).toEqual([traceId]);
  }, 120_000);
});
