// Knative Serving's queue-proxy in front of a plain user HTTP server, as the
// baseline for Hearth's per-pod hop (the agent's HTTP invoke endpoint): in a
// Knative pod every request passes queue-proxy before the user container.
// queue-proxy is not committed: it is built into ~/.cache/hearth at bench
// time, pinned, so the baseline does not drift between runs.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { reap } from '../src/agent/process-reaper.js';
import { goInstall, ready, type HttpProcess } from './baseline-process.js';

export type { HttpProcess } from './baseline-process.js';

const VERSION = 'v0.46.0';
const SERVER = join(import.meta.dirname, 'http-handler-server.py');
const START_TIMEOUT_MS = 10_000;

/** Builds queue-proxy if missing and returns its path; throws with the reason when it cannot. */
export function ensureQueueProxy(): string {
  return goInstall('knative.dev/serving/cmd/queue', VERSION, 'knative-queue-proxy');
}

// What Knative's revision reconciler sets on the queue-proxy container
// (pkg/reconciler/revision/resources/queue.go), without the optional ones,
// which stay at their zero values: no response-start or idle timeout, no
// readiness probe of the user server (ready() of baseline-process.ts waits
// for it instead), no HTTP/2 detection, no full duplex, no extra CA. The
// environment is given whole rather than added to ours, so no OTEL_* or
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
 * Starts queue-proxy (`queueProxy`, from ensureQueueProxy) on `port` in front of the user server on
 * 127.0.0.1:`userPort`, and waits until a request through it reaches that server. Its listeners
 * bind every interface (it takes ports, not addresses), and its admin (8022) and autoscaler metrics
 * (9090) ports are fixed in its source; the bench only ever talks to it on 127.0.0.1, and it
 * proxies only to 127.0.0.1.
 */
export async function startQueueProxy(queueProxy: string, userPort: number, port: number): Promise<HttpProcess> {
  const child = reap(spawn(queueProxy, [], { env: queueProxyEnv(userPort, port), stdio: ['ignore', 'ignore', 'pipe'] }));
  // On SIGTERM queue-proxy drains for 30 s, as a pod being removed from endpoints does; there is nothing
  // to drain here, so it is killed outright.
  return ready(child, `http://127.0.0.1:${port}`, { what: 'queue-proxy', graceMs: 0, timeoutMs: START_TIMEOUT_MS });
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
  return ready(child, `http://127.0.0.1:${port}`, { what: 'the user HTTP server', graceMs: 1000, timeoutMs: START_TIMEOUT_MS });
}
