// The gateway's overhead: the Lambda guide's Python handler called through
// the gateway, beside the same handler called straight at a warm agent and
// through nginx in front of that agent (a plain reverse proxy hop, the
// baseline for what a gateway costs). Then the cold start from zero, with
// and without the warm pool. Everything runs on loopback in this process or
// its children, and every loop is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Pool } from 'undici';
import { parse } from 'yaml';
import type { FunctionSpecInput } from '../src/api/function.js';
import { runAgentSidecar } from '../src/agent/sidecar.js';
import { startEmbedded } from '../src/platform/embedded.js';
import { freePort } from '../test/helpers/ports.js';
import { summarize, type Row } from './report.js';

const WARMUP = 100;
const CALLS = 2000;
const THROUGHPUT_MS = 3000;
const THROUGHPUT_CONNECTIONS = 4;
const COLD_STARTS = 8;

const HELLO = (parse(readFileSync('examples/hello-python.yaml', 'utf8')) as { spec: FunctionSpecInput }).spec;
const SOURCE = (HELLO.code.inline as Record<string, string>)['lambda_function.py'] as string;
const PAYLOAD = '{"key":"value"}';


/** Sequential calls on one keep-alive connection, then a fixed-time run on several. */
async function measure(name: string, origin: string, path: string, note: string): Promise<Row> {
  const client = new Pool(origin, { pipelining: 1, connections: THROUGHPUT_CONNECTIONS });
  const call = async () => {
    const res = await client.request({ method: 'POST', path, body: PAYLOAD, headers: { 'content-type': 'application/json' } });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !text.includes('Hello, world!')) throw new Error(`${name}: unexpected answer ${res.statusCode} ${text}`);
  };
  for (let i = 0; i < WARMUP; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  let done = 0;
  const end = performance.now() + THROUGHPUT_MS;
  await Promise.all(
    Array.from({ length: THROUGHPUT_CONNECTIONS }, async () => {
      while (performance.now() < end) {
        await call();
        done++;
      }
    }),
  );
  await client.close();
  return summarize(name, samples, { rps: (done / THROUGHPUT_MS) * 1000, note });
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

async function warmPaths(): Promise<Row[]> {
  const rows: Row[] = [];
  const task = mkdtempSync(join(tmpdir(), 'hearth-bench-task-'));
  writeFileSync(join(task, 'lambda_function.py'), SOURCE);
  const sidecar = await runAgentSidecar({
    command: ['python3', join(process.cwd(), 'runtimes/python/bootstrap.py')],
    functionName: 'hello-python',
    invokeHost: '127.0.0.1',
    invokePort: await freePort(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LAMBDA_TASK_ROOT: task, _HANDLER: 'lambda_function.lambda_handler', AWS_LAMBDA_FUNCTION_NAME: 'hello-python' },
    cwd: task,
    logger: pino({ level: 'silent' }),
  });
  const agentPath = '/2015-03-31/functions/function/invocations';
  const agentUrl = new URL(sidecar.invokeUrl);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-fns-'));
  writeFileSync(join(dir, 'hello-python.yaml'), readFileSync('examples/hello-python.yaml'));
  const platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), autoscale: false });
  let nginx: ReturnType<typeof startNginx>;
  try {
    rows.push(await measure('direct to a warm agent (HTTP)', agentUrl.origin, agentPath, 'baseline: no gateway'));
    const nginxPort = await freePort();
    nginx = startNginx(nginxPort, Number(agentUrl.port));
    if (nginx) {
      await waitForPort(nginxPort);
      rows.push(await measure('nginx → agent', `http://127.0.0.1:${nginxPort}`, agentPath, 'baseline: one reverse-proxy hop'));
    } else {
      rows.push({ name: 'nginx → agent', p50Ms: Number.NaN, p99Ms: Number.NaN, note: 'skipped: nginx is not installed (make bench installs it)' });
    }
    rows.push(await measure('gateway Invoke API → agent', platform.url, '/2015-03-31/functions/hello-python/invocations', 'Hearth: auth-free loopback, dispatch, metrics'));
  } finally {
    nginx?.proc.kill('SIGTERM');
    if (nginx) rmSync(nginx.dir, { recursive: true, force: true });
    await platform.close();
    await sidecar.close();
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
