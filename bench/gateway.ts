// The gateway's overhead: the Lambda guide's Python handler called warm
// through Hearth's embedded gateway (`hearth up`), beside the same handler
// behind AWS's runtime interface emulator (aws-lambda-rie + awslambdaric),
// straight at a warm agent (`hearth agent`, the pod's sidecar) and through
// nginx in front of that agent (one plain reverse-proxy hop: the baseline for
// what a gateway may cost). One client for every row (bench's measure()).
//
// Every server runs in a process of its own, as in production: the gateway is
// `hearth up` and the agent `hearth agent`, started as children, as RIE and
// nginx are. Inside this process their latency would include the client's
// own work and garbage collection, and the 4-connection run would have the
// client and the server share one event loop, which no deployment does.
// BENCH_GATEWAY_NODE_ARGS adds Node flags to the `hearth` processes only (e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof-gateway" or "--trace-gc"), so it can
// be profiled under exactly this load. Latency is 2,000 sequential calls per
// row; throughput takes turns between the rows on 4 connections, 3 rounds,
// each row its median round. Then the cold start from zero, with
// and without the warm pool. Every loop is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Pool } from 'undici';
import { parse } from 'yaml';
import type { FunctionSpecInput } from '../src/api/function.js';
import { reap } from '../src/agent/process-reaper.js';
import { pythonFor } from '../src/backends/local/runtime-command.js';
import { startEmbedded } from '../src/platform/embedded.js';
import { freePort } from '../test/helpers/ports.js';
import { RIE_INVOKE_PATH, ensureRie, startRie } from './agent-rie.js';
import { ready, type HttpProcess } from './baseline-process.js';
import { compiledCli } from './compiled-cli.js';
import { cpuMicros, processTree } from './process-cpu.js';
import { skipped, summarize, type Row } from './report.js';

const WARMUP = 100;
const CALLS = 2000;
const THROUGHPUT_MS = 3000;
const THROUGHPUT_WARMUP_MS = 1000;
const THROUGHPUT_CONNECTIONS = 4;
const THROUGHPUT_ROUNDS = 3;
const COLD_STARTS = 8;

const HELLO = (parse(readFileSync('examples/hello-python.yaml', 'utf8')) as { spec: FunctionSpecInput }).spec;
const SOURCE = (HELLO.code.inline as Record<string, string>)['lambda_function.py'] as string;
const PAYLOAD = '{"key":"value"}';


/** One call at a time, or several at once, to one server's invoke path: the same client for every row. */
function caller(name: string, origin: string, path: string): { call: () => Promise<void>; close: () => Promise<void> } {
  const client = new Pool(origin, { pipelining: 1, connections: THROUGHPUT_CONNECTIONS });
  return {
    call: async () => {
      const res = await client.request({ method: 'POST', path, body: PAYLOAD, headers: { 'content-type': 'application/json' } });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('Hello, world!')) throw new Error(`${name}: unexpected answer ${res.statusCode} ${text}`);
    },
    close: () => client.close(),
  };
}

/** Sequential calls on one keep-alive connection after warm-ups, with the serving processes' CPU per call in the note. */
async function measure(name: string, origin: string, path: string, note: string, opts: { cpuOf?: () => number[] } = {}): Promise<Row> {
  const { call, close } = caller(name, origin, path);
  try {
    for (let i = 0; i < WARMUP; i++) await call();
    const samples: number[] = [];
    const cpu0 = opts.cpuOf ? cpuMicros(opts.cpuOf()) : undefined;
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      await call();
      samples.push(performance.now() - t0);
    }
    // The serving processes' CPU time per sequential call: the cost of a call, which the machine's load stretches less than latency.
    if (opts.cpuOf && cpu0 !== undefined) {
      const used = cpuMicros(opts.cpuOf()) - cpu0;
      if (Number.isFinite(used)) note = `${note}; ${Math.round(used / CALLS)} µs CPU/call`;
    }
    return summarize(name, samples, { note });
  } finally {
    await close();
  }
}

/** Calls completed per second on THROUGHPUT_CONNECTIONS connections for THROUGHPUT_MS, after an untimed warm-up. */
async function throughput(name: string, origin: string, path: string): Promise<number> {
  const { call, close } = caller(name, origin, path);
  const concurrently = async (ms: number): Promise<number> => {
    let done = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: THROUGHPUT_CONNECTIONS }, async () => {
        while (performance.now() < end) {
          await call();
          done++;
        }
      }),
    );
    return done;
  };
  try {
    // Untimed first: a platform that scales out starts its instances for 4 callers here (cold starts are the cold rows' business).
    await concurrently(THROUGHPUT_WARMUP_MS);
    return ((await concurrently(THROUGHPUT_MS)) / THROUGHPUT_MS) * 1000;
  } finally {
    await close();
  }
}

/**
 * Throughput of each row in turn, THROUGHPUT_ROUNDS times, each row's
 * figure its median round: one 3 s run per row moved 10-20 % with the
 * machine's load, enough to turn the gateway-against-nginx ratio either way.
 */
async function throughputRounds(rows: readonly { row: Row; origin: string; path: string }[]): Promise<Row[]> {
  const rounds = rows.map(() => [] as number[]);
  for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
    for (const [i, x] of rows.entries()) rounds[i]?.push(await throughput(x.row.name, x.origin, x.path));
  }
  return rows.map((x, i) => {
    const each = rounds[i] ?? [];
    const median = [...each].sort((a, b) => a - b)[Math.floor(each.length / 2)] ?? Number.NaN;
    return { ...x.row, rps: Math.round(median), note: `${x.row.note}; req/s the median of ${each.length} rounds taking turns with the rows above (${each.map((v) => Math.round(v)).join(', ')})` };
  });
}

function startNginx(listenPort: number, upstreamPort: number): { proc: ChildProcess; dir: string } | undefined {
  if (spawnSync('nginx', ['-v']).error) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-nginx-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream agent { server 127.0.0.1:${upstreamPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${listenPort};
    location / { proxy_pass http://agent; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const proc = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  return { proc, dir };
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

const AGENT_PATH = '/2015-03-31/functions/function/invocations';
const GATEWAY_PATH = '/2015-03-31/functions/hello-python/invocations';

/** A `hearth` subcommand in a child process (compiled, as the image runs it), ready once `path` answers 200. */
async function startHearth(args: string[], url: string, path: string, opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; what: string }): Promise<HttpProcess & { pid: number }> {
  const child = reap(
    spawn(process.execPath, [...(opts.nodeArgs ?? []), join(process.cwd(), await compiledCli()), ...args], {
      env: { ...process.env, ...opts.env },
      // Their logs are not read: stderr only for the reason a start failed.
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  // Graceful: a profiled gateway writes its profile on the way out.
  const started = await ready(child, url, { what: opts.what, graceMs: 15_000, timeoutMs: 60_000, path });
  return { ...started, pid: child.pid ?? -1 };
}

async function rieRow(task: string): Promise<Row> {
  const name = 'AWS RIE + awslambdaric';
  let tools: { rie: string; python: string };
  try {
    tools = ensureRie(pythonFor('python3.12'));
  } catch (err) {
    return skipped(name, (err as Error).message.split('\n')[0] ?? 'setup failed');
  }
  const rie = await startRie(tools.rie, task, HELLO.handler ?? 'lambda_function.lambda_handler', await freePort(), tools.python);
  try {
    // The emulator runs one invocation at a time (as a Lambda sandbox does) and drops the connections of concurrent ones: latency only.
    return await measure(name, rie.url, RIE_INVOKE_PATH, "baseline: AWS's emulator, same handler (one call at a time)");
  } finally {
    await rie.close();
  }
}

export async function warmPaths(): Promise<Row[]> {
  const rows: Row[] = [];
  const task = mkdtempSync(join(tmpdir(), 'hearth-bench-task-'));
  writeFileSync(join(task, 'lambda_function.py'), SOURCE);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-fns-'));
  // One instance, as the agent rows have one runtime: the 4-connection run compares a gateway queueing calls for one
  // instance with nginx queueing them for one agent (unbounded, the gateway would start four sandboxed runtimes on 2 cores).
  writeFileSync(join(dir, 'hello-python.yaml'), `${readFileSync('examples/hello-python.yaml', 'utf8').trimEnd()}\n  scaling:\n    maxInstances: 1\n`);
  let agent: (HttpProcess & { pid: number }) | undefined;
  let gateway: (HttpProcess & { pid: number }) | undefined;
  let nginx: ReturnType<typeof startNginx>;
  try {
    rows.push(await rieRow(task));
    const agentPort = await freePort();
    const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    agent = await startHearth(
      ['agent', '--listen', `127.0.0.1:${agentPort}`, '--runtime-api', `127.0.0.1:${await freePort()}`, '--function-name', 'hello-python', '--', pythonFor('python3.12'), join(process.cwd(), 'runtimes/python/bootstrap.py')],
      `http://127.0.0.1:${agentPort}`,
      AGENT_PATH,
      { what: 'hearth agent', nodeArgs, env: { LAMBDA_TASK_ROOT: task, _HANDLER: HELLO.handler ?? 'lambda_function.lambda_handler', AWS_LAMBDA_FUNCTION_NAME: 'hello-python' } },
    );
    const agentPid = agent.pid;
    const timed: { row: Row; origin: string; path: string }[] = [];
    timed.push({ row: await measure('direct to a warm agent (HTTP)', agent.url, AGENT_PATH, 'baseline: hearth agent, no gateway', { cpuOf: () => [agentPid] }), origin: agent.url, path: AGENT_PATH });
    const nginxPort = await freePort();
    nginx = startNginx(nginxPort, agentPort);
    if (nginx) {
      await waitForPort(nginxPort);
      const nginxPid = nginx.proc.pid;
      const origin = `http://127.0.0.1:${nginxPort}`;
      timed.push({ row: await measure('nginx → agent', origin, AGENT_PATH, 'baseline: one reverse-proxy hop', { cpuOf: () => [...(nginxPid !== undefined ? processTree(nginxPid) : []), agentPid] }), origin, path: AGENT_PATH });
    } else {
      rows.push(skipped('nginx → agent', 'nginx is not installed (make bench installs it)'));
    }
    // The agent and its idle runtime stay up beside the gateway: the throughput rounds take turns between them all.
    const gatewayPort = await freePort();
    gateway = await startHearth(['up', '--dir', dir, '--port', String(gatewayPort), '--log-level', 'warn'], `http://127.0.0.1:${gatewayPort}`, GATEWAY_PATH, { what: 'hearth up', nodeArgs });
    const gatewayPid = gateway.pid;
    timed.push({ row: await measure('Hearth gateway (hearth up), Invoke API', gateway.url, GATEWAY_PATH, 'Hearth: auth-free loopback, dispatch, metrics, agent in process', { cpuOf: () => [gatewayPid] }), origin: gateway.url, path: GATEWAY_PATH });
    rows.push(...(await throughputRounds(timed)));
  } finally {
    nginx?.proc.kill('SIGTERM');
    if (nginx) rmSync(nginx.dir, { recursive: true, force: true });
    await gateway?.close();
    await agent?.close();
    rmSync(task, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function coldStarts(warmPoolSize: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-cold-'));
  const platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), autoscale: false, warmPoolSize });
  const samples: number[] = [];
  try {
    for (let i = 0; i < COLD_STARTS; i++) {
      const name = `cold-${i}`;
      writeFileSync(join(dir, `${name}.yaml`), readFileSync('examples/hello-python.yaml', 'utf8').replace('name: hello-python', `name: ${name}`));
      const deadline = Date.now() + 10_000;
      while (!platform.catalog.get(name)) {
        if (Date.now() > deadline) throw new Error(`${name} never appeared`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // Let the pool refill, as it would between real cold starts.
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      const res = await fetch(`${platform.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: PAYLOAD });
      const text = await res.text();
      samples.push(performance.now() - t0);
      if (!text.includes('Hello, world!')) throw new Error(`cold start answered ${res.status} ${text}`);
    }
  } finally {
    await platform.close();
  }
  return summarize(`cold start from zero, warm pool ${warmPoolSize === 0 ? 'off' : `of ${warmPoolSize}`}`, samples, {
    note: warmPoolSize === 0 ? 'baseline: spawn python + init' : 'pre-started interpreter, specialised on first use',
  });
}

export async function benchGateway(): Promise<Row[]> {
  return [...(await warmPaths()), await coldStarts(0), await coldStarts(1)];
}
