// The agent of a warm-pool pod (`hearth agent --pool`) with real runtimes
// started as the pool pod's runtime container starts them: the pool
// runtime script, HEARTH_SPECIALIZE=stdin, the FIFO on fd 0. Loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/agent/client.js';
import { NotDeliveredError } from '../../src/agent/delivery.js';
import { DRAIN_QUIET_MS } from '../../src/agent/quiet-period.js';
import { PoolAgent, poolReadiness } from '../../src/agent/pool-mode.js';
import { POOL_FIFO_NAME, POOL_SAVED_ENV_NAME, poolRuntimeEnv, poolRuntimeScript } from '../../src/agent/pool-paths.js';
import { procRuntimePeer } from '../../src/agent/runtime-peer.js';
import { checkSpecialization, specializationLine, taskFileNameProblem } from '../../src/agent/specialize.js';
import type { PackEntry } from '../../src/packages/collect.js';
import { writeZip } from '../../src/packages/zip-write.js';
import { SPECIALIZE_PATH, type Specialization } from '../../src/pools/specialization.js';
import { freePort } from '../helpers/ports.js';
import { checkMetrics } from '../metrics/promtool.js';
import { waitFor } from '../helpers/wait.js';
import { REPO_ROOT, request, silent } from './helpers.js';

const PY = ['python3', join(REPO_ROOT, 'runtimes/python/bootstrap.py')];
const NODE = ['node', join(REPO_ROOT, 'runtimes/nodejs/bootstrap.mjs')];
const MARKER = `marker-${process.pid}-${Date.now()}`;

const PY_APP = `import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"marker": os.environ.get("MARKER"), "fn": context.function_name, "event": event}
`;
const NODE_APP = `exports.handler = async (event, context) => ({ marker: process.env.MARKER, fn: context.functionName, event });\n`;

const b64 = (s: string): string => Buffer.from(s).toString('base64');

interface Pod {
  dir: string;
  task: string;
  opt: string;
  spec: string;
  api: string;
  agent: PoolAgent;
  url: string;
  client: AgentClient;
}

/** A ZIP of these files (with their directories), written by the packager's own writer. */
async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const src = mkdtempSync(join(tmpdir(), 'hearth-pool-zip-'));
  const entries: PackEntry[] = [];
  const dirs = new Set<string>();
  for (const [name, text] of Object.entries(files)) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) entries.push({ kind: 'directory', name: d });
      dirs.add(d);
    }
    const path = join(src, `f${entries.length}`);
    writeFileSync(path, text);
    entries.push({ kind: 'file', name, path, mode: 0o644, size: Buffer.byteLength(text) });
  }
  return writeZip(entries);
}

const alive = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;

describe('agent in pool mode', () => {
  const procs: ChildProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) if (alive(p)) p.kill('SIGKILL');
    for (const c of closers.splice(0).reverse()) await c();
  });

  /** A pool pod's agent; `of`: the same pod's volumes and ports (its agent container restarted). */
  async function pod(opts: { initTimeoutMs?: number; of?: Pod } = {}): Promise<Pod> {
    const dir = opts.of?.dir ?? mkdtempSync(join(tmpdir(), 'hearth-pool-'));
    const [task, opt, spec] = ['task', 'opt', 'specialize'].map((d) => join(dir, d)) as [string, string, string];
    if (opts.of === undefined) for (const d of [task, opt, spec]) mkdirSync(d);
    const port = opts.of !== undefined ? Number(opts.of.api.split(':')[1]) : await freePort();
    const api = `127.0.0.1:${port}`;
    const agent = new PoolAgent({
      taskRoot: task,
      optDir: opt,
      fifo: join(spec, POOL_FIFO_NAME),
      runtimePort: port,
      logger: silent,
      peer: (a) => procRuntimePeer(a, { pollMs: 50 }),
      fifoPollMs: 20,
      ...(opts.initTimeoutMs !== undefined ? { initTimeoutMs: opts.initTimeoutMs } : {}),
    });
    await agent.start();
    const { url } = await agent.listen('127.0.0.1', opts.of !== undefined ? Number(new URL(opts.of.url).port) : 0);
    const client = new AgentClient(url, { connections: 2 });
    closers.push(() => agent.close(), () => client.close().catch(() => undefined));
    return { dir, task, opt, spec, api, agent, url, client };
  }

  /** What the kubelet runs as the pool pod's runtime container (the script, then the image's command). */
  function runtime(p: Pod, cmd: string[]): ChildProcess & { out: () => string } {
    const child = spawn('/bin/sh', ['-c', poolRuntimeScript(p.spec), 'pool-runtime', ...cmd], {
      cwd: p.task,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LAMBDA_TASK_ROOT: p.task, ...poolRuntimeEnv(p.api, { taskRoot: p.task, optDir: p.opt }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    procs.push(child);
    return Object.assign(child, { out: () => out });
  }

  function specialization(p: Pod, over: Partial<Specialization> & { handler: string; extraEnv?: Record<string, string> }): Specialization {
    const { handler, extraEnv, ...rest } = over;
    return {
      unit: 'fn',
      functionName: 'fn',
      version: '$LATEST',
      memoryMB: 128,
      timeoutSeconds: 3,
      concurrency: 1,
      env: {
        _HANDLER: handler,
        LAMBDA_TASK_ROOT: p.task,
        AWS_LAMBDA_FUNCTION_NAME: 'fn',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
        AWS_LAMBDA_MAX_CONCURRENCY: '1',
        MARKER,
        ...extraEnv,
      },
      ...rest,
    };
  }

  async function specialize(p: Pod, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(p.url + SPECIALIZE_PATH, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function readyz(p: Pod, waitMs?: number): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${p.url}/readyz${waitMs !== undefined ? `?wait=${waitMs}` : ''}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function call(p: Pod, event: Record<string, unknown>, timeoutMs = 3000): Promise<{ outcome: string; doc: Record<string, unknown> }> {
    const r = await p.client.invoke(request(event, { timeoutMs }));
    return { outcome: r.outcome, doc: JSON.parse(r.payload.toString()) as Record<string, unknown> };
  }

  it('serves a python function given inline after an idle start that held nothing of it', async () => {
    const p = await pod();
    const rt = runtime(p, PY);
    expect(await readyz(p, 10_000)).toMatchObject({ status: 200, body: { status: 'idle' } });

    // Before the claim: nothing of the function in the task root, /opt, the shared directory or the runtime's environment.
    expect(readdirSync(p.task)).toEqual([]);
    expect(readdirSync(p.opt)).toEqual([]);
    expect(readdirSync(p.spec)).toEqual([POOL_FIFO_NAME]);
    const environ = readFileSync(`/proc/${rt.pid}/environ`, 'utf8');
    expect(environ).toContain('HEARTH_SPECIALIZE=stdin');
    expect(environ).not.toContain(MARKER);
    expect(environ).not.toContain('_HANDLER');
    // ... and calls are refused as not delivered, so the gateway sends them elsewhere.
    await expect(p.client.invoke(request({}))).rejects.toMatchObject({ name: 'NotDeliveredError', reason: 'draining' });

    const answer = await specialize(p, specialization(p, { handler: 'app.handler', files: { 'app.py': b64(PY_APP) } }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ unit: 'fn', specializedMs: expect.any(Number) });
    // Sent at once: the call waits in the agent's queue for the runtime's init.
    const first = await call(p, { n: 1 });
    expect(first).toEqual({ outcome: 'success', doc: { marker: MARKER, fn: 'fn', event: { n: 1 } } });
    expect(await readyz(p)).toMatchObject({ status: 200, body: { status: 'ready', unit: 'fn' } });

    const saved = join(p.spec, POOL_SAVED_ENV_NAME);
    expect(statSync(saved).mode & 0o777).toBe(0o600);
    const line = readFileSync(saved, 'utf8');
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ env: { MARKER, _HANDLER: 'app.handler', AWS_LAMBDA_RUNTIME_API: p.api } });

    // A claimed pod never takes a second function.
    const again = await specialize(p, specialization(p, { handler: 'app.handler', unit: 'other', functionName: 'other', files: { 'other.py': b64(PY_APP) } }));
    expect(again.status).toBe(409);
    expect(existsSync(join(p.task, 'other.py'))).toBe(false);
    expect((await call(p, { n: 2 })).doc).toMatchObject({ marker: MARKER, event: { n: 2 } });
  });

  it('serves a python function of concurrency 2 (its workers fork after the line)', async () => {
    const p = await pod();
    runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    const body = specialization(p, { handler: 'app.handler', concurrency: 2, extraEnv: { AWS_LAMBDA_MAX_CONCURRENCY: '2' }, files: { 'app.py': b64(PY_APP) } });
    expect((await specialize(p, body)).status).toBe(200);
    const both = await Promise.all([call(p, { sleep: 0.3, n: 1 }), call(p, { sleep: 0.3, n: 2 })]);
    expect(both.map((r) => r.doc)).toEqual([
      { marker: MARKER, fn: 'fn', event: { sleep: 0.3, n: 1 } },
      { marker: MARKER, fn: 'fn', event: { sleep: 0.3, n: 2 } },
    ]);
    expect(p.agent.functionAgent?.concurrency).toBe(2);
  });

  it('serves a nodejs function given inline', async () => {
    const p = await pod();
    runtime(p, NODE);
    expect((await readyz(p, 10_000)).status).toBe(200);
    const answer = await specialize(p, specialization(p, { handler: 'index.handler', files: { 'index.js': b64(NODE_APP) } }));
    expect(answer.status).toBe(200);
    expect(await call(p, { n: 1 })).toEqual({ outcome: 'success', doc: { marker: MARKER, fn: 'fn', event: { n: 1 } } });
  });

  it('gives calls sent right after the claim the init error of a function that cannot start, as any pod does', async () => {
    const p = await pod();
    runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    expect((await specialize(p, specialization(p, { handler: 'missing.handler', files: { 'app.py': b64(PY_APP) } }))).status).toBe(200);
    const r = await p.client.invoke(request({}));
    expect(r).toMatchObject({ outcome: 'unhandled', errorType: 'Runtime.ImportModuleError' });
    expect(await readyz(p)).toMatchObject({ status: 503, body: { status: 'failed', unit: 'fn' } });
  });

  it('refuses bad bodies with 400 and writes nothing', async () => {
    const p = await pod();
    const good = specialization(p, { handler: 'app.handler', files: { 'app.py': b64(PY_APP) } });
    expect((await specialize(p, '{not json')).status).toBe(400);
    expect((await specialize(p, { ...good, memoryMB: 'lots' })).status).toBe(400);
    expect((await specialize(p, { ...good, extra: 1 })).status).toBe(400);
    for (const name of ['../evil.py', 'a/b.py', '..', '.', '']) {
      const r = await specialize(p, { ...good, files: { 'ok.py': b64('x = 1\n'), [name]: b64('x = 1\n') } });
      expect(r.status, name).toBe(400);
    }
    expect((await specialize(p, { ...good, files: { 'app.py': '***' } })).status).toBe(400);
    expect((await specialize(p, { ...good, archives: [{ into: 'task' }] })).status).toBe(400);
    expect((await specialize(p, { ...good, archives: [{ into: 'task', url: 'http://127.0.0.1:1/x.zip' }] })).status).toBe(400);
    // A caller that goes away mid-body leaves the pod idle (a stuck "under way" would refuse every later claim).
    const port = Number(new URL(p.url).port);
    await new Promise<void>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => {
        sock.write(`POST ${SPECIALIZE_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"unit":`);
        setTimeout(() => sock.destroy(), 100);
      });
      sock.once('close', () => resolve());
      sock.on('error', () => undefined);
    });
    await waitFor('the cut-short specialisation to end', async () => (await specialize(p, '{')).status === 400, 5000);
    expect(readdirSync(p.task)).toEqual([]);
    expect(readdirSync(p.dir).sort()).toEqual(['opt', 'specialize', 'task']);
    // Refusals leave the pod idle: without its runtime's FIFO it is not ready (and says why).
    expect(await readyz(p)).toMatchObject({ status: 503, body: { status: 'starting' } });
    expect((await specialize(p, good)).status).toBe(503);
    expect(readdirSync(p.task)).toEqual([]);
  });

  it('unpacks a package into the task root and layers into /opt, fetched or given, for python and nodejs', async () => {
    const pkg = await zipOf({ 'data/x.txt': 'from the package', 'app.py': 'import layermod\nfrom pathlib import Path\ndef handler(event, context):\n    return {"layer": layermod.WHO, "data": Path("data/x.txt").read_text()}\n' });
    const layer = await zipOf({ 'python/layermod.py': 'WHO = "python layer"\n' });
    // The layer is fetched over HTTP with its digest, as `hearth unpack` fetches a URL source.
    const server: Server = createServer((req, res) => {
      res.writeHead(req.url === '/layer.zip' ? 200 : 404);
      res.end(req.url === '/layer.zip' ? layer : undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const layerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/layer.zip`;
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

    const p = await pod();
    runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    const answer = await specialize(
      p,
      specialization(p, {
        handler: 'app.handler',
        extraEnv: { PYTHONPATH: `${p.opt}/python` },
        archives: [
          { into: 'task', zipBase64: pkg.toString('base64'), sha256: digest(pkg) },
          { into: 'opt', url: layerUrl, sha256: digest(layer) },
        ],
      }),
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(existsSync(join(p.opt, 'python/layermod.py'))).toBe(true);
    expect(await call(p, {})).toEqual({ outcome: 'success', doc: { layer: 'python layer', data: 'from the package' } });

    // nodejs: a CommonJS handler requires a module of its layer through NODE_PATH, read when the line came.
    const nodeLayer = await zipOf({ 'nodejs/node_modules/layermod/index.js': 'module.exports = { who: "node layer" };\n' });
    const nodePkg = await zipOf({ 'index.js': 'const l = require("layermod");\nexports.handler = async () => ({ layer: l.who });\n' });
    const q = await pod();
    runtime(q, NODE);
    expect((await readyz(q, 10_000)).status).toBe(200);
    const nodeAnswer = await specialize(
      q,
      specialization(q, {
        handler: 'index.handler',
        extraEnv: { NODE_PATH: `${q.opt}/nodejs/node_modules` },
        archives: [
          { into: 'task', zipBase64: nodePkg.toString('base64') },
          { into: 'opt', zipBase64: nodeLayer.toString('base64'), sha256: digest(nodeLayer) },
        ],
      }),
    );
    expect(nodeAnswer.status, JSON.stringify(nodeAnswer.body)).toBe(200);
    expect(await call(q, {})).toEqual({ outcome: 'success', doc: { layer: 'node layer' } });
  });

  it('answers 500 when the code cannot be written, and the pod then serves nothing', async () => {
    const p = await pod();
    runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    const zip = await writeZip([]);
    const answer = await specialize(p, specialization(p, { handler: 'app.handler', archives: [{ into: 'task', zipBase64: zip.toString('base64'), sha256: 'a'.repeat(64) }] }));
    expect(answer.status).toBe(500);
    expect(answer.body).toMatchObject({ errorType: 'Hearth.SpecializationFailed', errorMessage: expect.stringContaining('SHA-256') });
    expect(await readyz(p)).toMatchObject({ status: 503, body: { status: 'failed' } });
    await expect(p.client.invoke(request({}))).rejects.toBeInstanceOf(NotDeliveredError);
    expect((await specialize(p, specialization(p, { handler: 'app.handler', files: { 'app.py': b64(PY_APP) } }))).status).toBe(409);
    // The runtime never got a line.
    expect(existsSync(join(p.spec, POOL_SAVED_ENV_NAME))).toBe(false);

    // A package URL that cannot be fetched: the answer names its origin and path, never its query (a signature).
    const q = await pod();
    runtime(q, PY);
    expect((await readyz(q, 10_000)).status).toBe(200);
    const unreachable = `http://127.0.0.1:${await freePort()}/pkg.zip?X-Amz-Signature=s3cr3t`;
    const fetched = await specialize(q, specialization(q, { handler: 'app.handler', archives: [{ into: 'task', url: unreachable, sha256: 'a'.repeat(64) }] }));
    expect(fetched.status).toBe(500);
    expect(String(fetched.body.errorMessage)).toContain('/pkg.zip');
    expect(String(fetched.body.errorMessage)).not.toContain('s3cr3t');
  });

  it('GET /readyz?wait answers once ready, or 503 after the wait, and leaves nothing behind when the caller goes', async () => {
    const p = await pod();
    const t0 = Date.now();
    expect(await readyz(p, 300)).toMatchObject({ status: 503, body: { status: 'starting' } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(p.agent.listenerCount).toBe(0);

    // A caller that gives up mid-wait.
    const ac = new AbortController();
    const gone = fetch(`${p.url}/readyz?wait=30000`, { signal: ac.signal }).catch(() => 'aborted');
    await waitFor('the wait to register', () => p.agent.listenerCount === 1, 5000);
    ac.abort();
    expect(await gone).toBe('aborted');
    await waitFor('the wait to end with its caller', () => p.agent.listenerCount === 0, 5000);

    // A wait that the runtime's start ends.
    const waiting = readyz(p, 20_000);
    await waitFor('the wait to register', () => p.agent.listenerCount === 1, 5000);
    runtime(p, PY);
    expect(await waiting).toMatchObject({ status: 200, body: { status: 'idle' } });
    expect(p.agent.listenerCount).toBe(0);
  });

  it('drains an idle pool pod at once, which then takes no function', async () => {
    const p = await pod();
    runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    const t0 = Date.now();
    const res = await fetch(`${p.url}/drain`);
    expect(await res.json()).toEqual({ status: 'drained', handedBack: 0 });
    // Well inside the quiet period a function pod's drain waits for (DRAIN_QUIET_MS, 2 s).
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await readyz(p)).status).toBe(503);
    expect((await specialize(p, specialization(p, { handler: 'app.handler', files: { 'app.py': b64(PY_APP) } }))).status).toBe(503);
    expect(readdirSync(p.task)).toEqual([]);
  });

  it('kills a runtime that overran its deadline; started again as the kubelet would, it is the same function', async () => {
    const p = await pod();
    const first = runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    expect((await specialize(p, specialization(p, { handler: 'app.handler', timeoutSeconds: 1, files: { 'app.py': b64(PY_APP) } }))).status).toBe(200);
    expect((await call(p, { n: 1 }, 1000)).doc).toMatchObject({ marker: MARKER });

    const overrun = await call(p, { sleep: 30 }, 1000);
    expect(overrun.doc).toMatchObject({ errorType: 'Sandbox.Timedout' });
    await waitFor('the runtime to be killed', () => !alive(first), 10_000);
    expect(first.signalCode).toBe('SIGKILL');

    // The kubelet starts the container again: the script reads env.json, not the FIFO.
    const second = runtime(p, PY);
    const next = await call(p, { n: 2 }, 1000);
    expect(next, second.out()).toEqual({ outcome: 'success', doc: { marker: MARKER, fn: 'fn', event: { n: 2 } } });
    expect(readFileSync(`/proc/${second.pid}/fd/0`, 'utf8')).toContain(MARKER);
  });

  it('an agent container restarted after the claim is the same function agent again', async () => {
    const p = await pod();
    const first = runtime(p, PY);
    expect((await readyz(p, 10_000)).status).toBe(200);
    expect((await specialize(p, specialization(p, { handler: 'app.handler', timeoutSeconds: 2, files: { 'app.py': b64(PY_APP) } }))).status).toBe(200);
    expect((await call(p, { n: 1 })).doc).toMatchObject({ marker: MARKER });

    // The agent container stops; the kubelet starts it again with the same volumes and ports.
    await p.client.close();
    await p.agent.close();
    const q = await pod({ of: p });
    expect(q.agent.state).not.toBe('idle');
    expect(q.agent.functionAgent).toMatchObject({ functionName: 'fn', timeoutSeconds: 2 });
    // A runtime that lost its agent exits; the kubelet starts it again, from env.json.
    await waitFor('the runtime to give up on the old agent', () => !alive(first), 15_000);
    runtime(q, PY);
    expect(await call(q, { n: 2 })).toEqual({ outcome: 'success', doc: { marker: MARKER, fn: 'fn', event: { n: 2 } } });
    expect((await specialize(q, specialization(q, { handler: 'app.handler', files: { 'other.py': b64(PY_APP) } }))).status).toBe(409);
  });

  it('an agent that finds code but no saved function (a specialisation cut short) serves nothing', async () => {
    const p = await pod();
    writeFileSync(join(p.task, 'app.py'), PY_APP);
    await p.client.close();
    await p.agent.close();
    const q = await pod({ of: p });
    runtime(q, PY);
    await waitFor('the FIFO', () => existsSync(join(q.spec, POOL_FIFO_NAME)), 10_000);
    expect(await readyz(q, 300)).toMatchObject({ status: 503, body: { status: 'failed' } });
    await expect(q.client.invoke(request({}))).rejects.toBeInstanceOf(NotDeliveredError);
    expect((await specialize(q, specialization(q, { handler: 'app.handler', files: { 'x.py': b64(PY_APP) } }))).status).toBe(409);
  });
});

describe('hearth agent --pool (the command a pool pod runs)', () => {
  const procs: ChildProcess[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) if (alive(p)) p.kill('SIGKILL');
  });

  it('takes its task root, /opt, FIFO and ports from its flags, serves the function it is given and leaves at once on SIGTERM while idle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-pool-cli-'));
    const [task, opt, spec] = ['task', 'opt', 'specialize'].map((d) => join(dir, d)) as [string, string, string];
    for (const d of [task, opt, spec]) mkdirSync(d);
    const [listenPort, apiPort] = [await freePort(), await freePort()];
    const api = `127.0.0.1:${apiPort}`;
    const url = `http://127.0.0.1:${listenPort}`;
    const start = (): ChildProcess & { out: () => string } => {
      // node itself with tsx as its loader, not the tsx wrapper: a SIGKILL in afterEach must reach the agent, not orphan it.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'agent', '--pool', '--listen', `127.0.0.1:${listenPort}`, '--runtime-api', api, '--task-root', task, '--opt-dir', opt, '--specialize-fifo', join(spec, POOL_FIFO_NAME)],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEARTH_LOG_LEVEL: 'warn' } },
      );
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      procs.push(child);
      return Object.assign(child, { out: () => out });
    };
    const readyz = async (): Promise<number> => (await fetch(`${url}/readyz?wait=10000`)).status;
    const listening = async (): Promise<boolean> => fetch(`${url}/healthz`).then((r) => r.ok, () => false);

    // Idle, then SIGTERM: gone at once (no function, no quiet period to wait for).
    const idle = start();
    await waitFor('the agent to listen', listening, 30_000, 100);
    const exited = new Promise<number | null>((r) => idle.once('exit', (code) => r(code)));
    const t0 = Date.now();
    idle.kill('SIGTERM');
    expect(await exited, idle.out()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(DRAIN_QUIET_MS);

    const agent = start();
    await waitFor('the agent to listen', listening, 30_000, 100);
    const rt = spawn('/bin/sh', ['-c', poolRuntimeScript(spec), 'pool-runtime', ...PY], {
      cwd: task,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...poolRuntimeEnv(api, { taskRoot: task, optDir: opt }) },
      stdio: 'ignore',
    });
    procs.push(rt);
    expect(await readyz()).toBe(200);
    const layer = await zipOf({ 'python/layermod.py': 'WHO = "layer"\n' });
    const body: Specialization = {
      unit: 'cli',
      functionName: 'cli',
      version: '$LATEST',
      memoryMB: 128,
      timeoutSeconds: 3,
      concurrency: 1,
      env: { _HANDLER: 'app.handler', LAMBDA_TASK_ROOT: task, AWS_LAMBDA_FUNCTION_NAME: 'cli', MARKER, PYTHONPATH: `${opt}/python` },
      files: { 'app.py': b64('import os, layermod\ndef handler(event, context):\n    return {"marker": os.environ["MARKER"], "layer": layermod.WHO, "arn": context.invoked_function_arn}\n') },
      archives: [{ into: 'opt', zipBase64: layer.toString('base64') }],
    };
    const res = await fetch(url + SPECIALIZE_PATH, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status, agent.out()).toBe(200);
    expect(existsSync(join(task, 'app.py'))).toBe(true);
    expect(existsSync(join(opt, 'python/layermod.py'))).toBe(true);
    expect(existsSync(join(spec, POOL_SAVED_ENV_NAME))).toBe(true);
    const client = new AgentClient(url, { connections: 1 });
    try {
      const r = await client.invoke(request({}));
      expect(JSON.parse(r.payload.toString())).toMatchObject({ marker: MARKER, layer: 'layer' });
    } finally {
      await client.close();
    }
    // Its /metrics counts the call under the function it was given, and passes Prometheus's lint.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^hearth_agent_invocations_total\{function="cli",outcome="success"\} 1$/m);
    const lint = await checkMetrics(metrics);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);
  });
});

describe('pool agent decisions', () => {
  it('names a task-root file only as one safe path component', () => {
    for (const ok of ['app.py', 'index.mjs', 'a-b_c.1', '.env']) expect(taskFileNameProblem(ok), ok).toBeUndefined();
    for (const bad of ['', '.', '..', 'a/b', '../x', '/abs', 'a\\b', 'sp ace', 'x'.repeat(254), 'nul\0']) expect(taskFileNameProblem(bad), bad).toBeDefined();
  });

  it('checks a specialisation before anything is written', () => {
    const base = { unit: 'u', functionName: 'f', version: '$LATEST', memoryMB: 128, timeoutSeconds: 3, concurrency: 1, env: {} };
    const check = (doc: unknown) => checkSpecialization(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
    expect(check(base).ok).toBe(true);
    expect(check({ ...base, files: { 'a.py': b64('x') } }).ok).toBe(true);
    expect(check({ ...base, archives: [{ into: 'opt', url: 'https://x/l.zip', sha256: 'a'.repeat(64) }] }).ok).toBe(true);
    const refused: [string, unknown][] = [
      ['not JSON', '{'],
      ['missing unit', { ...base, unit: undefined }],
      ['unknown member', { ...base, more: 1 }],
      ['bad base64', { ...base, files: { 'a.py': 'a' } }],
      ['path in a name', { ...base, files: { 'x/a.py': b64('x') } }],
      ['archive with neither source', { ...base, archives: [{ into: 'task' }] }],
      ['archive with both sources', { ...base, archives: [{ into: 'task', url: 'https://x/a.zip', sha256: 'a'.repeat(64), zipBase64: '' }] }],
      ['URL without digest', { ...base, archives: [{ into: 'task', url: 'https://x/a.zip' }] }],
      ['URL of another scheme', { ...base, archives: [{ into: 'task', url: 'file:///etc/passwd', sha256: 'a'.repeat(64) }] }],
    ];
    for (const [why, doc] of refused) expect(check(doc).ok, why).toBe(false);
    // Large contents are checked too (a grouped pattern overflowed the regular-expression stack at a few MB).
    const big = Buffer.alloc(20 * 1024 * 1024, 7).toString('base64');
    expect(check({ ...base, files: { 'big.bin': big } }).ok).toBe(true);
    expect(check({ ...base, archives: [{ into: 'task', zipBase64: big }] }).ok).toBe(true);
    expect(check({ ...base, files: { 'big.bin': `${big}A` } }).ok).toBe(false);
  });

  it("gives the runtime the function's environment with this agent's Runtime API, as one line", () => {
    const line = specializationLine({ A: '1', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001', MULTI: 'x\ny' }, '127.0.0.1:4242');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ env: { A: '1', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:4242', MULTI: 'x\ny' } });
  });

  it('the runtime script reads the saved line, or waits on the FIFO, wherever its directory is', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'hearth-pool-script-')), "it's a dir");
    mkdirSync(dir);
    const run = (input?: string): Promise<string> =>
      new Promise((resolve, reject) => {
        // head -n 1: what a runtime does with its stdin, one line.
        const child = spawn('/bin/sh', ['-c', poolRuntimeScript(dir), 'pool-runtime', 'head', '-n', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.once('close', () => resolve(out));
        child.once('error', reject);
        if (input !== undefined) {
          // Like the agent: open the FIFO read-write once it exists and write the line.
          void waitFor('the FIFO', () => existsSync(join(dir, POOL_FIFO_NAME)), 5000).then(() => writeFileSync(join(dir, POOL_FIFO_NAME), input));
        }
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      });
    expect(await run('{"env":{"A":"fifo"}}\n')).toBe('{"env":{"A":"fifo"}}\n');
    expect(statSync(join(dir, POOL_FIFO_NAME)).isFIFO()).toBe(true);
    writeFileSync(join(dir, POOL_SAVED_ENV_NAME), '{"env":{"A":"saved"}}\n');
    expect(await run()).toBe('{"env":{"A":"saved"}}\n');
  });

  it('is ready when idle with its runtime waiting, or once its function agent is', () => {
    const base = { closed: false, fifoReady: true, draining: false } as const;
    const table: [Parameters<typeof poolReadiness>[0], boolean, string][] = [
      [{ ...base, phase: 'idle' }, true, 'idle'],
      [{ ...base, phase: 'idle', fifoReady: false }, false, 'starting'],
      [{ ...base, phase: 'idle', draining: true }, false, 'draining'],
      [{ ...base, phase: 'specializing' }, false, 'specializing'],
      [{ ...base, phase: 'failed' }, false, 'failed'],
      [{ ...base, phase: 'specialized', agentState: 'starting', unit: 'u' }, false, 'starting'],
      [{ ...base, phase: 'specialized', agentState: 'ready', unit: 'u' }, true, 'ready'],
      [{ ...base, phase: 'specialized', agentState: 'ready', unit: 'u', draining: true }, false, 'draining'],
      [{ ...base, phase: 'specialized', agentState: 'ready', closed: true }, false, 'closed'],
    ];
    for (const [input, ready, status] of table) expect(poolReadiness(input), JSON.stringify(input)).toMatchObject({ ready, body: { status } });
  });
});
