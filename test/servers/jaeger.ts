// A real trace backend for tests: Jaeger v2 (built once into ~/.cache/hearth by
// build-jaeger.sh; make test-unit starts that build beside the unit suites)
// with in-memory storage, receiving OTLP/HTTP and answering its query API,
// everything on 127.0.0.1 and free ports so test files can each run their own.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.js';
import { runBuildScript } from './build-script.js';

const script = fileURLToPath(new URL('./build-jaeger.sh', import.meta.url));

/** The binary's path, or why there is none (only outside CI: under CI=true a failed build fails). */
export function buildJaeger(): Promise<{ bin: string } | { skip: string }> {
  return runBuildScript(script);
}

/** One span as Jaeger's /api/traces answers it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: Array<{ key: string; type: string; value: unknown }>;
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: unknown[] }>;
}

export interface Jaeger {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for a process exporting here. */
  otlpEndpoint: string;
  /** The query API's base URL (…/api/traces). */
  queryUrl: string;
  /** Traces with a span of this service, newest first (Jaeger's /api/traces?service=). */
  traces(service: string): Promise<JaegerTrace[]>;
  /** One trace by id, or undefined while Jaeger has none of it. */
  trace(traceId: string): Promise<JaegerTrace | undefined>;
  /** What Jaeger wrote to its stdout and stderr (the last 8 kB). */
  output(): string;
  stop(): Promise<void>;
}

function config(ports: { otlp: number; query: number; queryGrpc: number; health: number }): string {
  // Only what the tests use: the OTLP/HTTP receiver, memory storage, the query API and a health check; no metrics port.
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${ports.health}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.otlp}
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

export async function startJaeger(bin: string): Promise<Jaeger> {
  const ports = { otlp: await freePort(), query: await freePort(), queryGrpc: await freePort(), health: await freePort() };
  const dir = mkdtempSync(join(tmpdir(), 'hearth-jaeger-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, config(ports));
  let output = '';
  const proc: ChildProcess = spawn(bin, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JAEGER_LISTEN_HOST: '127.0.0.1' } });
  proc.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-8000)));
  proc.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-8000)));
  let exited = false;
  proc.once('exit', () => (exited = true));
  const queryUrl = `http://127.0.0.1:${ports.query}`;
  // Ready when the query API answers (it starts after storage and the receivers).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`jaeger exited at start: ${output}`);
    const ok = await getJson(`${queryUrl}/api/services`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`jaeger did not answer on ${queryUrl}: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${ports.otlp}`,
    queryUrl,
    traces: async (service) => {
      const r = await getJson(`${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=100`);
      if (r.status !== 200) throw new Error(`jaeger /api/traces: ${r.status} ${JSON.stringify(r.body)}`);
      return ((r.body as { data: JaegerTrace[] | null }).data ?? []);
    },
    trace: async (traceId) => {
      const r = await getJson(`${queryUrl}/api/traces/${traceId}`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`jaeger /api/traces/${traceId}: ${r.status} ${JSON.stringify(r.body)}`);
      return (r.body as { data: JaegerTrace[] }).data[0];
    },
    output: () => output,
    stop: async () => {
      if (!exited) {
        await new Promise<void>((resolve) => {
          proc.once('exit', () => resolve());
          proc.kill('SIGKILL');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
