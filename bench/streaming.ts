// Response streaming: how soon the first byte of a streamed answer reaches the
// caller, and how fast a large stream flows, through the gateway
// (InvokeWithResponseStream and a RESPONSE_STREAM function URL) beside the
// same Node.js function called straight at its agent's invoke endpoint (the
// baseline: no gateway, no dispatcher, no event-stream framing). Loopback
// only; every loop is bounded.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { runAgentSidecar } from '../src/agent/sidecar.js';
import { INVOKE_PATH, REQUEST_HEADERS } from '../src/agent/invoke-headers.js';
import { startEmbedded } from '../src/platform/embedded.js';
import { freePort } from '../test/helpers/ports.js';
import { summarize, type Row } from './report.js';

const WARMUP = 50;
const CALLS = 500;
/** The large stream: 64 KiB writes, 100 MiB in all. */
const BIG = { size: 64 * 1024, chunks: 1600 };
const BIG_CALLS = 3;
/**
 * How long the handler keeps its stream open after the first write, in the first-byte runs: a streamed
 * first byte leaves at once, a buffered answer only when the handler is done, so the two are told apart.
 */
const HOLD_MS = 20;

// The first write goes out at once; then the handler holds the stream open holdMs (event or URL query); the rest (none, or BIG) follows, with back-pressure.
const HANDLER = `export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('first\\n');
  const holdMs = Number(event.holdMs ?? event.queryStringParameters?.holdMs ?? 0);
  if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
  const buf = Buffer.alloc(event.size ?? 0, 120);
  for (let i = 0; i < (event.chunks ?? 0); i++) {
    if (!stream.write(buf)) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
});
`;

interface Target {
  name: string;
  origin: string;
  path: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  /** The event, for the paths that carry it (a function URL carries the request instead). */
  body?: (event: object) => string;
  note: string;
}

/** One call: ms to the first body byte and to the end, and the bytes received. */
async function call(pool: Pool, t: Target, event: object): Promise<{ firstMs: number; totalMs: number; bytes: number }> {
  const t0 = performance.now();
  const res = await pool.request({ method: t.method, path: t.path, headers: t.headers, ...(t.body ? { body: t.body(event) } : {}) });
  if (res.statusCode !== 200) throw new Error(`${t.name}: answered ${res.statusCode} ${await res.body.text()}`);
  let firstMs = Number.NaN;
  let bytes = 0;
  for await (const chunk of res.body) {
    if (Number.isNaN(firstMs)) firstMs = performance.now() - t0;
    bytes += (chunk as Buffer).length;
  }
  return { firstMs, totalMs: performance.now() - t0, bytes };
}

async function timeToFirstByte(t: Target): Promise<Row> {
  const pool = new Pool(t.origin, { connections: 1, pipelining: 1 });
  try {
    for (let i = 0; i < WARMUP; i++) await call(pool, t, { holdMs: HOLD_MS });
    const samples: number[] = [];
    for (let i = 0; i < CALLS; i++) samples.push((await call(pool, t, { holdMs: HOLD_MS })).firstMs);
    return summarize(`first byte: ${t.name}`, samples, { note: t.note });
  } finally {
    await pool.close();
  }
}

async function bigStream(t: Target): Promise<Row> {
  const pool = new Pool(t.origin, { connections: 1, pipelining: 1 });
  try {
    const samples: number[] = [];
    let mibPerS = 0;
    for (let i = 0; i < BIG_CALLS; i++) {
      const r = await call(pool, t, BIG);
      if (r.bytes < BIG.size * BIG.chunks) throw new Error(`${t.name}: ${r.bytes} bytes of ${BIG.size * BIG.chunks}`);
      samples.push(r.totalMs);
      mibPerS = Math.max(mibPerS, r.bytes / 1024 / 1024 / (r.totalMs / 1000));
    }
    return summarize(`100 MiB: ${t.name}`, samples, { note: `${mibPerS.toFixed(0)} MiB/s at best; ${t.note}` });
  } finally {
    await pool.close();
  }
}

export async function benchStreaming(): Promise<Row[]> {
  const task = mkdtempSync(join(tmpdir(), 'hearth-bench-stream-task-'));
  writeFileSync(join(task, 'index.mjs'), HANDLER);
  const sidecar = await runAgentSidecar({
    command: [process.execPath, join(process.cwd(), 'runtimes/nodejs/bootstrap.mjs')],
    functionName: 'streamer',
    timeoutSeconds: 120,
    invokeHost: '127.0.0.1',
    invokePort: await freePort(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LAMBDA_TASK_ROOT: task, _HANDLER: 'index.handler', AWS_LAMBDA_FUNCTION_NAME: 'streamer' },
    cwd: task,
    logger: pino({ level: 'silent' }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-stream-fns-'));
  mkdirSync(dir, { recursive: true });
  const fn = {
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name: 'streamer' },
    spec: { runtime: 'nodejs20', handler: 'index.handler', timeoutSeconds: 120, url: { invokeMode: 'RESPONSE_STREAM' }, code: { inline: { 'index.mjs': HANDLER } } },
  };
  writeFileSync(join(dir, 'streamer.yaml'), stringify(fn));
  // No pace: the bench measures what the path can carry, not Lambda's 2 MiB/s.
  const platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), autoscale: false, streamLimits: { maxBytes: 1024 * 1024 * 1024, burstBytes: 0, bytesPerSecond: 0 } });
  const json = { 'content-type': 'application/json' };
  const agent: Target = {
    name: 'straight from the agent',
    origin: sidecar.invokeUrl,
    path: INVOKE_PATH,
    method: 'POST',
    headers: { ...json, [REQUEST_HEADERS.acceptStream]: '1' },
    body: (e) => JSON.stringify(e),
    note: 'baseline: no gateway',
  };
  const sdk: Target = {
    name: 'gateway InvokeWithResponseStream',
    origin: platform.url,
    path: '/2021-11-15/functions/streamer/response-streaming-invocations',
    method: 'POST',
    headers: json,
    body: (e) => JSON.stringify(e),
    note: 'dispatch, limits, event-stream framing',
  };
  const url: Target = { name: 'gateway function URL (RESPONSE_STREAM)', origin: platform.url, path: `/fn/streamer/?holdMs=${HOLD_MS}`, method: 'GET', headers: {}, note: 'dispatch, limits, URL event' };
  try {
    const invoke: Target = { ...sdk, name: 'gateway Invoke (buffered)', path: '/2015-03-31/functions/streamer/invocations', note: `the same call answered whole: first byte = last, after the handler's ${HOLD_MS} ms` };
    const rows = [await timeToFirstByte(agent), await timeToFirstByte(sdk), await timeToFirstByte(url), await timeToFirstByte(invoke)];
    // The function URL's event carries no size: the big stream compares the two paths that pass the event on.
    rows.push(await bigStream(agent), await bigStream(sdk));
    return rows;
  } finally {
    await platform.close();
    await sidecar.close();
  }
}
