// The agent's HTTP invoke endpoint for callers in other processes (the
// dispatcher reaching a pod), on the path of AWS's runtime interface
// emulator so benchmarks can point the same client at either. Also the
// pod's probes and its preStop hook: GET /drain begins the agent's drain
// and answers once the agent is empty and callers have gone quiet (see
// quiet-period.ts), so the kubelet sends the runtime SIGTERM only when no
// call is left in it and none is on its way.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvokeRequest, InvokeResult } from './invocation.js';
import { DRAIN_PATH, INVOKE_PATH, requestFromHeaders, resultToHeaders } from './invoke-headers.js';
import { readBody, sendJson } from './http-io.js';
import { DRAINING_ERROR_TYPE, DRAINING_HEADER, DRAINING_STATUS, NotDeliveredError } from './delivery.js';
import { DRAIN_QUIET_MAX_MS, DRAIN_QUIET_MS, quietWaitMs } from './quiet-period.js';

export interface Invokable {
  readonly state: string;
  readonly draining: boolean;
  readonly timeoutSeconds: number;
  readonly functionArn: string;
  /** Rejects only with a NotDeliveredError (draining or closed). */
  invoke(req: InvokeRequest): Promise<InvokeResult>;
  /** Begins the drain; resolves once nothing is queued or running. */
  drain(): Promise<{ handedBack: number }>;
}

/** Longest close() waits for answers still being written before it cuts connections. */
const CLOSE_GRACE_MS = 2000;

export interface InvokeServer {
  address: { host: string; port: number; url: string };
  close(): Promise<void>;
}

export interface InvokeServerOptions {
  /** Quiet GET /drain waits for after the agent is empty (default DRAIN_QUIET_MS; tests shorten it). */
  drainQuietMs?: number;
}

export async function startInvokeServer(target: Invokable, host: string, port: number, payloadLimit: number, opts: InvokeServerOptions = {}): Promise<InvokeServer> {
  const calls: CallClock = { lastCallAt: 0, quietMs: opts.drainQuietMs ?? DRAIN_QUIET_MS };
  let active = 0;
  let onQuiet: (() => void) | undefined;
  const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => {
    active++;
    res.once('close', () => {
      active--;
      if (active === 0) onQuiet?.();
    });
    // While draining, each answer closes its connection, so callers stop reusing them.
    if (target.draining) res.shouldKeepAlive = false;
    void handle(target, payloadLimit, calls, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    address: { host: addr.address, port: addr.port, url: `http://${urlHost}:${addr.port}` },
    // Stops accepting and closes idle connections, then lets requests in
    // progress get their answer (by now the agent refuses them as draining,
    // which the caller may retry elsewhere) before cutting what is left.
    close: () =>
      new Promise((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
        onQuiet = () => server.closeIdleConnections();
        if (active === 0) onQuiet();
      }),
  };
}

function sendDraining(res: ServerResponse, err: NotDeliveredError): void {
  res.shouldKeepAlive = false;
  sendJson(res, DRAINING_STATUS, { errorMessage: err.message, errorType: DRAINING_ERROR_TYPE }, { [DRAINING_HEADER]: '1', connection: 'close' });
}

/** When the last invocation arrived, for the drain's quiet period. */
interface CallClock {
  lastCallAt: number;
  quietMs: number;
}

async function handle(target: Invokable, payloadLimit: number, calls: CallClock, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === INVOKE_PATH) calls.lastCallAt = Date.now();
  if (path === '/healthz') {
    req.resume();
    return sendJson(res, 200, { status: 'ok' });
  }
  if (path === '/readyz') {
    req.resume();
    const ready = target.state === 'ready' && !target.draining;
    return sendJson(res, ready ? 200 : 503, { status: target.draining ? 'draining' : target.state });
  }
  if (path === DRAIN_PATH) {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'POST') return sendJson(res, 405, { errorMessage: 'Method Not Allowed', errorType: 'MethodNotAllowed' });
    const drainStartedAt = Date.now();
    const { handedBack } = await target.drain();
    for (let wait = quietWait(calls, drainStartedAt); wait > 0; wait = quietWait(calls, drainStartedAt)) await new Promise((r) => setTimeout(r, wait));
    return sendJson(res, 200, { status: 'drained', handedBack });
  }
  if (path !== INVOKE_PATH) {
    req.resume();
    return sendJson(res, 404, { errorMessage: 'Not Found', errorType: 'NotFound' });
  }
  if (req.method !== 'POST') {
    req.resume();
    return sendJson(res, 405, { errorMessage: 'Method Not Allowed', errorType: 'MethodNotAllowed' });
  }
  const body = await readBody(req, payloadLimit);
  if (body.tooLarge) {
    return sendJson(res, 413, {
      errorMessage: `${body.bytes} byte payload is too large for the RequestResponse invocation type (limit ${payloadLimit} bytes)`,
      errorType: 'RequestTooLargeException',
    });
  }
  const invokeReq = requestFromHeaders(req.headers, body.body, { timeoutSeconds: target.timeoutSeconds, functionArn: target.functionArn });
  let result: InvokeResult;
  try {
    result = await target.invoke(invokeReq);
  } catch (err) {
    if (err instanceof NotDeliveredError) return sendDraining(res, err);
    throw err;
  }
  if (res.destroyed) return;
  // A drain that began meanwhile: this connection has carried its last call.
  if (target.draining || target.state === 'closed') res.shouldKeepAlive = false;
  res.writeHead(200, { ...resultToHeaders(result, invokeReq.requestId), 'content-length': result.payload.length });
  res.end(result.payload);
}

function quietWait(calls: CallClock, drainStartedAt: number): number {
  return quietWaitMs({ now: Date.now(), drainStartedAt, lastCallAt: calls.lastCallAt, quietMs: calls.quietMs, maxMs: Math.max(calls.quietMs, DRAIN_QUIET_MAX_MS) });
}
