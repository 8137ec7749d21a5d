// Agent benchmark: for each runtime, a warm invocation's round trip through
// the agent (in process, and over its HTTP invoke endpoint with one
// keep-alive connection) beside a direct call of the same handler in its own
// process (no agent, no Runtime API: see agent-direct.ts); the cold start
// from process spawn to first response, with and without the warm pool; and
// AWS's runtime interface emulator with awslambdaric running the same Python
// handler, as the baseline for the HTTP round trip; and Knative's queue-proxy
// in front of a plain HTTP server calling that handler, as the baseline for
// the per-pod hop (with the server alone, so the hop's own share shows).
import { freePort } from '../test/helpers/ports.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Pool } from 'undici';
import { parse } from 'yaml';
import { FunctionSchema, type HearthFunction } from '../src/api/function.js';
import type { InvokeRequest, InvokeResult } from '../src/agent/invocation.js';
import { AgentClient } from '../src/agent/client.js';
import { LocalBackend } from '../src/backends/local/local-backend.js';
import { LocalInstance } from '../src/backends/local/local-instance.js';
import { CodeStore } from '../src/backends/local/code-store.js';
import { findRepoRoot, pythonFor } from '../src/backends/local/runtime-command.js';
import { directLoop } from './agent-direct.js';
import { RIE_INVOKE_PATH, ensureRie, startRie } from './agent-rie.js';
import { ensureQueueProxy, startQueueProxy, startUserServer, type HttpProcess } from './agent-queue-proxy.js';
import { cpuMicros, processTree } from './process-cpu.js';
import { skipped, summarise, type Row } from './report.js';

const WARM_UPS = 100;
const CALLS = 2000;
const COLD_TRIALS = 8;
const ROOT = findRepoRoot();
export const WORK = join(ROOT, 'bench/.work/agent');
const silent = pino({ level: 'silent' });

const EXAMPLES = { python: 'hello-python.yaml', nodejs: 'hello-node.yaml', go: 'hello-go.yaml' } as const;
export type Family = keyof typeof EXAMPLES;

export function example(family: Family): HearthFunction {
  return FunctionSchema.parse(parse(readFileSync(join(ROOT, 'examples', EXAMPLES[family]), 'utf8')));
}

function req(): InvokeRequest {
  return { requestId: randomUUID(), payload: Buffer.from('{}'), timeoutMs: 3000, invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:bench' };
}

interface Loop {
  samples: number[];
  wallMs: number;
  /** CPU per call, µs: this process's (agent and client alike), and the processes of `others` (the runtime, or the emulator and its runtime). */
  cpu: { ownUs: number; othersUs: number };
}

/**
 * Sequential calls after warm-ups. Besides latencies it counts CPU per call
 * on both sides: on a loaded machine latencies move with other people's
 * work, CPU time much less, so it is what tells a change apart from noise.
 */
async function loop(call: () => Promise<unknown>, others: number | undefined = undefined): Promise<Loop> {
  for (let i = 0; i < WARM_UPS; i++) await call();
  const samples: number[] = [];
  const pids = others !== undefined ? processTree(others) : [];
  const own = process.cpuUsage();
  const othersBefore = cpuMicros(pids);
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await call();
    samples.push(performance.now() - t);
  }
  const wallMs = performance.now() - start;
  const ownUsed = process.cpuUsage(own);
  return { samples, wallMs, cpu: { ownUs: (ownUsed.user + ownUsed.system) / CALLS, othersUs: (cpuMicros(pids) - othersBefore) / CALLS } };
}

function cpuNote(l: Loop, others: string): string {
  return `CPU/call: this process ${l.cpu.ownUs.toFixed(0)} µs, ${others} ${l.cpu.othersUs.toFixed(0)} µs`;
}

function ok(r: InvokeResult): InvokeResult {
  if (r.outcome !== 'success') throw new Error(`invocation failed: ${r.payload.toString()}`);
  return r;
}

async function warmRows(family: Family, b: LocalBackend): Promise<Row[]> {
  const fn = example(family);
  const name = fn.metadata.name;
  await b.upsert(fn);
  await b.scale(name, 1);
  const inst = b.instances(name)[0];
  if (!(inst instanceof LocalInstance) || inst.state !== 'ready') throw new Error(`${name} did not start: ${inst?.initError?.payload.toString() ?? 'no instance'}`);
  const rows: Row[] = [];
  const inProcess = await loop(async () => ok(await inst.invoke(req())), inst.agent.pid);
  rows.push(summarise(`${family} warm: agent in process`, inProcess.samples, { wallMs: inProcess.wallMs, note: `${CALLS} sequential after ${WARM_UPS} warm-ups; ${cpuNote(inProcess, 'runtime')}` }));
  const { url } = await inst.agent.listenInvoke();
  const client = new AgentClient(url, { connections: 1 });
  try {
    const http = await loop(async () => ok(await client.invoke(req())), inst.agent.pid);
    rows.push(summarise(`${family} warm: agent HTTP endpoint`, http.samples, { wallMs: http.wallMs, note: `undici, one keep-alive connection; ${cpuNote(http, 'runtime')}` }));
  } finally {
    await client.close();
  }
  if (family !== 'go') {
    const taskRoot = await new CodeStore(WORK, '').materialise(fn.spec.code.inline ?? {});
    const interpreter = family === 'python' ? pythonFor(fn.spec.runtime) : process.execPath;
    const direct = directLoop(family, interpreter, taskRoot, fn.spec.handler ?? '', WARM_UPS, CALLS);
    rows.push(summarise(`${family} warm: direct handler call`, direct, { note: 'in the runtime\'s own process, with JSON decode/encode; no IPC' }));
  }
  await b.remove(name);
  return rows;
}

/** One cold start: scale(1) → first response, then back to zero. Waits first, as coldRow explains. */
export async function coldSample(b: LocalBackend, fn: HearthFunction, poolSize: number): Promise<number> {
  const name = fn.metadata.name;
  // Every variant rests between trials so a refilled pool process has finished starting (the pool
  // cannot tell a booting process from a ready one) and the machine is equally quiet for each.
  await new Promise((r) => setTimeout(r, 400));
  if (poolSize > 0) await waitFor(() => b.warmIdle(fn.spec.runtime) >= 1);
  const t = performance.now();
  await b.scale(name, 1);
  const inst = b.instances(name)[0];
  if (!inst) throw new Error('no instance');
  ok(await inst.invoke(req()));
  const ms = performance.now() - t;
  await b.scale(name, 0);
  await waitFor(() => b.instances(name).length === 0);
  return ms;
}

export function coldHow(family: Family, poolSize: number): string {
  // A plain binary has no pool (nothing to save); a sandboxed one starts from a pool of sandboxed exec stubs.
  if (family === 'go') return poolSize > 0 ? 'prebuilt binary; sandboxed, from a warm pool of exec stubs' : 'prebuilt binary';
  return poolSize > 0 ? 'from the warm pool (stdin specialisation)' : 'fresh interpreter';
}

export function coldName(family: Family, poolSize: number): string {
  return `${family} cold start${poolSize > 0 ? ', warm pool' : ', no pool'}`;
}

async function coldRow(family: Family, poolSize: number): Promise<Row> {
  const b = new LocalBackend({ cacheDir: WORK, logger: silent, warmPoolSize: poolSize });
  try {
    const fn = example(family);
    await b.upsert(fn);
    const samples: number[] = [];
    for (let i = 0; i < COLD_TRIALS; i++) samples.push(await coldSample(b, fn, poolSize));
    return summarise(coldName(family, poolSize), samples, { note: `scale(1) → first response, ${COLD_TRIALS} trials, ${coldHow(family, poolSize)}` });
  } finally {
    await b.close();
  }
}

async function rieRow(): Promise<Row> {
  const name = 'python warm: AWS RIE + awslambdaric HTTP';
  let tools: { rie: string; python: string };
  try {
    tools = ensureRie(pythonFor('python3.12'));
  } catch (err) {
    return skipped(name, (err as Error).message.split('\n')[0] ?? 'setup failed');
  }
  const fn = example('python');
  const taskRoot = await new CodeStore(WORK, '').materialise(fn.spec.code.inline ?? {});
  const rie = await startRie(tools.rie, taskRoot, fn.spec.handler ?? '', await freePort(), tools.python);
  try {
    const r = await postLoop(rie.url, RIE_INVOKE_PATH, rie.pid);
    return summarise(name, r.samples, { wallMs: r.wallMs, note: `baseline: same handler and client settings as the agent HTTP row; ${cpuNote(r, 'emulator + runtime')}` });
  } finally {
    await rie.close();
  }
}

/** The HTTP rows' loop: POSTs of '{}' over one keep-alive connection, each answered 200. */
async function postLoop(url: string, path: string, pid?: number): Promise<Loop> {
  const pool = new Pool(url, { connections: 1, pipelining: 1 });
  try {
    return await loop(async () => {
      const res = await pool.request({ path, method: 'POST', body: '{}' });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
    }, pid);
  } finally {
    await pool.close();
  }
}

async function knativeRows(): Promise<Row[]> {
  const directName = 'python warm: user HTTP server, direct (Knative baseline)';
  const proxiedName = 'python warm: Knative queue-proxy → user HTTP server (per-pod hop baseline)';
  // Built before anything is measured, so a first run's build does not overlap a measurement.
  let queueProxy: string | undefined;
  let buildError = 'build failed';
  try {
    queueProxy = ensureQueueProxy();
  } catch (err) {
    buildError = firstLine(err, buildError);
  }
  const fn = example('python');
  const taskRoot = await new CodeStore(WORK, '').materialise(fn.spec.code.inline ?? {});
  let user: HttpProcess;
  try {
    user = await startUserServer(pythonFor(fn.spec.runtime), taskRoot, fn.spec.handler ?? '', await freePort());
  } catch (err) {
    return [skipped(directName, firstLine(err, 'start failed')), skipped(proxiedName, firstLine(err, 'start failed'))];
  }
  const rows: Row[] = [];
  try {
    rows.push(await httpRow(directName, user.url, 'http.server, HTTP/1.1 keep-alive; same client settings as the agent HTTP row'));
    if (queueProxy === undefined) {
      rows.push(skipped(proxiedName, buildError));
      return rows;
    }
    let qp: HttpProcess;
    try {
      qp = await startQueueProxy(queueProxy, Number(new URL(user.url).port), await freePort());
    } catch (err) {
      rows.push(skipped(proxiedName, firstLine(err, 'start failed')));
      return rows;
    }
    try {
      rows.push(await httpRow(proxiedName, qp.url, 'knative.dev/serving v0.46.0, containerConcurrency 1; minus the row above = the hop'));
    } finally {
      await qp.close();
    }
  } finally {
    await user.close();
  }
  return rows;
}

/** A row of postLoop against `url`, or a skipped row with the reason the loop stopped. */
async function httpRow(name: string, url: string, note: string): Promise<Row> {
  try {
    const r = await postLoop(url, '/');
    return summarise(name, r.samples, { wallMs: r.wallMs, note });
  } catch (err) {
    return skipped(name, firstLine(err, 'failed'));
  }
}

function firstLine(err: unknown, fallback: string): string {
  return (err as Error).message.split('\n')[0] || fallback;
}

export async function benchAgent(): Promise<Row[]> {
  const rows: Row[] = [];
  const b = new LocalBackend({ cacheDir: WORK, logger: silent, warmPoolSize: 0 });
  try {
    for (const family of ['python', 'nodejs', 'go'] as const) {
      try {
        rows.push(...(await warmRows(family, b)));
        if (family === 'python') {
          rows.push(await rieRow());
          rows.push(...(await knativeRows()));
        }
      } catch (err) {
        rows.push(skipped(`${family} warm`, firstLine(err, 'failed')));
      }
    }
  } finally {
    await b.close();
  }
  for (const [family, pool] of [['python', 0], ['python', 1], ['nodejs', 0], ['nodejs', 1], ['go', 0]] as const) {
    try {
      rows.push(await coldRow(family, pool));
    } catch (err) {
      rows.push(skipped(`${family} cold start`, (err as Error).message.split('\n')[0] ?? 'failed'));
    }
  }
  return rows;
}

async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

