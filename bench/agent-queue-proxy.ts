// Knative Serving's queue-proxy in front of a plain user HTTP server, as the
// baseline for Hearth's per-pod hop (the agent's HTTP invoke endpoint): in a
// Knative pod every request passes queue-proxy before the user container.
// queue-proxy is not committed: it is built into ~/.cache/hearth at bench
// time, pinned, so the baseline does not drift between runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { reap, terminate } from '../src/agent/process-reaper.js';
import { BIN, run } from './agent-rie.js';

const VERSION = 'v0.46.0';
// The version is in the name so that moving the pin builds afresh instead of reusing the old binary.
const QUEUE_PROXY = join(BIN, `knative-queue-proxy-${VERSION}`);
const SERVER = join(import.meta.dirname, 'http-handler-server.py');
const TRIES = 200;
const TRY_EVERY_MS = 50;

/** Builds queue-proxy if missing and returns its path; throws with the reason when it cannot. */
export function ensureQueueProxy(): string {
  if (existsSync(QUEUE_PROXY)) return QUEUE_PROXY;
  // `go install` names the binary after its package ("queue"), which says nothing in a shared bin
  // directory; it goes to a scratch GOBIN first and is renamed into place, so a half-built one is never used.
  const scratch = join(BIN, `.knative-queue-build-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  try {
    // GOTOOLCHAIN=local: build with the Go on this machine rather than download the one go.mod asks for.
    run('go', ['install', `knative.dev/serving/cmd/queue@${VERSION}`], { ...process.env, GOBIN: scratch, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '' });
    renameSync(join(scratch, 'queue'), QUEUE_PROXY);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return QUEUE_PROXY;
}

export interface HttpProcess {
  url: string;
  close(): Promise<void>;
}

// What Knative's revision reconciler sets on the queue-proxy container
// (pkg/reconciler/revision/resources/queue.go), without the optional ones,
// which stay at their zero values: no response-start or idle timeout, no
// readiness probe of the user server (ready() below waits for it instead),
// no HTTP/2 detection, no full duplex, no extra CA. The environment is given whole rather than added to ours, so no OTEL_* or
// proxy variable of the caller's can turn on an exporter that leaves the host.
function queueProxyEnv(userPort: number, port: number): NodeJS.ProcessEnv {
  return {
    SERVING_NAMESPACE: 'bench',
    SERVING_SERVICE: 'hello-python',
    SERVING_CONFIGURATION: 'hello-python',
    SERVING_REVISION: 'hello-python-00001',
    SERVING_POD: 'hello-python-00001-deployment-bench',
    SERVING_POD_IP: '127.0.0.1',
    QUEUE_SERVING_PORT: String(port),
    // Required, but only bound when certificates are mounted at /var/lib/knative/certs; none are, so no TLS.
    QUEUE_SERVING_TLS_PORT: '0',
    // queue-proxy always proxies to 127.0.0.1:USER_PORT.
    USER_PORT: String(userPort),
    REVISION_TIMEOUT_SECONDS: '3',
    // One request at a time per instance, as a Lambda-style function (and Hearth's agent) runs; it turns on
    // queue-proxy's breaker, which Knative's default of 0 (unlimited) leaves out.
    CONTAINER_CONCURRENCY: '1',
    // Knative's default zap config (config-logging), errors only and to stderr, which is kept for the
    // reason a failed start reports; an empty config would make it warn and fall back to another one.
    SERVING_LOGGING_CONFIG: JSON.stringify({
      level: 'error',
      development: false,
      outputPaths: ['stderr'],
      errorOutputPaths: ['stderr'],
      encoding: 'json',
      encoderConfig: { timeKey: 'timestamp', levelKey: 'severity', nameKey: 'logger', callerKey: 'caller', messageKey: 'message', stacktraceKey: 'stacktrace', lineEnding: '', levelEncoder: '', timeEncoder: 'iso8601', durationEncoder: '', callerEncoder: '' },
    }),
    SERVING_LOGGING_LEVEL: 'error',
    // These are the defaults; spelt out so that the baseline does not silently start tracing, exporting
    // metrics or writing a request log line per call if a later version changes them.
    OBSERVABILITY_CONFIG: JSON.stringify({
      tracing: { protocol: 'none' },
      metrics: { protocol: 'none' },
      requestMetrics: { protocol: 'none' },
      runtime: { profiling: 'disabled' },
      enableRequestLog: false,
    }),
  };
}

/**
 * Starts queue-proxy (built by ensureQueueProxy) on `port` in front of the user server on
 * 127.0.0.1:`userPort`, and waits until a request through it reaches that server. Its listeners
 * bind every interface (it takes ports, not addresses), and its admin (8022) and autoscaler metrics
 * (9090) ports are fixed in its source; the bench only ever talks to it on 127.0.0.1, and it
 * proxies only to 127.0.0.1.
 */
export async function startQueueProxy(userPort: number, port: number): Promise<HttpProcess> {
  const child = reap(spawn(QUEUE_PROXY, [], { env: queueProxyEnv(userPort, port), stdio: ['ignore', 'ignore', 'pipe'] }));
  // On SIGTERM queue-proxy drains for 30 s, as a pod being removed from endpoints does; there is nothing
  // to drain here, so it is killed outright.
  return ready(child, `http://127.0.0.1:${port}`, 'queue-proxy', 0);
}

/** Starts bench/http-handler-server.py serving `handler` from `taskRoot` on 127.0.0.1:`port`. */
export async function startUserServer(python: string, taskRoot: string, handler: string, port: number): Promise<HttpProcess> {
  const child = reap(
    spawn(python, [SERVER, String(port), taskRoot, handler], {
      cwd: taskRoot,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  return ready(child, `http://127.0.0.1:${port}`, 'the user HTTP server', 1000);
}

// Polls with the bench's request until it is answered 200: queue-proxy answers 502 until the user
// server behind it listens. Gives up, with what the process printed, when it exits or after TRIES.
async function ready(child: ChildProcess, url: string, what: string, graceMs: number): Promise<HttpProcess> {
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  let last = 'no answer';
  for (let i = 0; i < TRIES; i++) {
    if (spawnError !== undefined || child.exitCode !== null || child.signalCode !== null) break;
    try {
      const res = await fetch(url, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return { url, close: () => terminate(child, graceMs) };
      last = `answered ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, TRY_EVERY_MS));
  }
  await terminate(child, 0);
  const how = spawnError !== undefined ? `could not start: ${spawnError.message}` : child.exitCode !== null ? `exited ${child.exitCode}` : `did not answer 200 within ${(TRIES * TRY_EVERY_MS) / 1000} s (${last})`;
  throw new Error([`${what} ${how}`, lastLogLine(stderr)].filter((w) => w !== '').join(': '));
}

// queue-proxy logs one JSON object a line, with a stack trace; the reason is its `error` (or `message`).
function lastLogLine(stderr: string): string {
  const line = stderr.trim().split('\n').pop() ?? '';
  try {
    const entry = JSON.parse(line) as { error?: unknown; message?: unknown };
    const reason = typeof entry.error === 'string' ? entry.error : entry.message;
    if (typeof reason === 'string') return reason;
  } catch {
    // Not JSON: a plain line such as envconfig's "required key ... missing value" or a Python traceback's last line.
  }
  return line.slice(0, 300);
}
