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
import { DRAIN_PATH, encodeStreamEnd, INVOKE_PATH, requestFromHeaders, resultToHeaders, STREAM_END_TRAILER, STREAM_MODE_HEADER } from './invoke-headers.js';
import type { ResponseStream } from './invocation.js';
import { writeThrough } from '../streaming/write-through.js';
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
  /**
   * Begins the drain; resolves once nothing is queued or running.
   * `neverServed`: the instance never took a call (an idle pool pod), so the
   * drain answers at once, without waiting for callers to go quiet.
   */
  drain(): Promise<{ handedBack: number; neverServed?: boolean }>;
  /** Calls the listener on any change that may change readiness; returns how to stop. */
  on(listener: () => void): () => unknown;
  /** What /readyz answers (default: ready once the runtime took its first event and no drain began). */
  readiness?(): Readiness;
}

export interface Readiness {
  ready: boolean;
  /** The body of /readyz. */
  body: Record<string, unknown>;
}

/** Longest GET /readyz?wait=MS holds a request. */
export const READY_WAIT_MAX_MS = 30_000;

/** Longest close() waits for answers still being written before it cuts connections. */
const CLOSE_GRACE_MS = 2000;

export interface InvokeServer {
  address: { host: string; port: number; url: string };
  close(): Promise<void>;
}

export interface InvokeServerOptions {
  /** Quiet GET /drain waits for after the agent is empty (default DRAIN_QUIET_MS; tests shorten it). */
  drainQuietMs?: number;
  /** More routes by exact path (the pool agent's specialisation). */
  routes?: Readonly<Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>>;
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
    void handle(target, payloadLimit, calls, opts.routes ?? {}, req, res).catch(() => res.destroy());
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

/** The wait of GET /readyz?wait=MS: 0 without one or for anything but a non-negative number; at most READY_WAIT_MAX_MS. Pure. */
export function readyWaitMs(url: string): number {
  const q = url.indexOf('?');
  if (q < 0) return 0;
  const raw = new URLSearchParams(url.slice(q + 1)).get('wait');
  if (raw === null || !/^\d{1,9}$/.test(raw)) return 0;
  return Math.min(Number(raw), READY_WAIT_MAX_MS);
}

function readinessOf(target: Invokable): Readiness {
  if (target.readiness) return target.readiness();
  return { ready: target.state === 'ready' && !target.draining, body: { status: target.draining ? 'draining' : target.state } };
}

/**
 * Resolves once the target is ready, after `ms`, or when the caller has
 * gone, whichever is first; its timer and listener go with it.
 */
function untilReady(target: Invokable, ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      off();
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = target.on(() => {
      if (readinessOf(target).ready) done();
    });
    res.once('close', done);
    if (readinessOf(target).ready) done();
  });
}

async function handle(
  target: Invokable,
  payloadLimit: number,
  calls: CallClock,
  routes: Readonly<Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (path === INVOKE_PATH) calls.lastCallAt = Date.now();
  if (path === '/healthz') {
    req.resume();
    return sendJson(res, 200, { status: 'ok' });
  }
  if (path === '/readyz') {
    req.resume();
    // ?wait=MS: a long poll, so a gateway learns of readiness from the agent at once rather than a probe period later.
    const wait = readyWaitMs(req.url ?? '/');
    if (wait > 0 && !readinessOf(target).ready) await untilReady(target, wait, res);
    const r = readinessOf(target);
    return sendJson(res, r.ready ? 200 : 503, r.body);
  }
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (route !== undefined) return route(req, res);
  if (path === DRAIN_PATH) {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'POST') return sendJson(res, 405, { errorMessage: 'Method Not Allowed', errorType: 'MethodNotAllowed' });
    const drainStartedAt = Date.now();
    const { handedBack, neverServed } = await target.drain();
    if (neverServed === true) return sendJson(res, 200, { status: 'drained', handedBack });
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
  const stream = result.stream;
  if (res.destroyed) {
    stream?.body.destroy();
    return;
  }
  // A drain that began meanwhile: this connection has carried its last call.
  if (target.draining || target.state === 'closed') res.shouldKeepAlive = false;
  if (stream !== undefined) return sendStream(res, { ...resultToHeaders(result, invokeReq.requestId), 'content-type': stream.contentType }, stream);
  res.writeHead(200, { ...resultToHeaders(result, invokeReq.requestId), 'content-length': result.payload.length });
  res.end(result.payload);
}

/**
 * A streamed response, chunk by chunk as the runtime writes it, paused while
 * the caller is behind; how it ended follows in a trailer, since the status
 * went out with the first byte. A caller that goes away releases the stream.
 */
async function sendStream(res: ServerResponse, headers: Record<string, string>, stream: ResponseStream): Promise<void> {
  res.writeHead(200, { ...headers, [STREAM_MODE_HEADER]: 'streaming', trailer: STREAM_END_TRAILER });
  res.flushHeaders();
  if ((await writeThrough(stream.body, res)) === 'gone') return;
  const end = await stream.ended;
  if (res.destroyed) return;
  res.addTrailers({ [STREAM_END_TRAILER]: encodeStreamEnd(end) });
  res.end();
}

function quietWait(calls: CallClock, drainStartedAt: number): number {
  return quietWaitMs({ now: Date.now(), drainStartedAt, lastCallAt: calls.lastCallAt, quietMs: calls.quietMs, maxMs: Math.max(calls.quietMs, DRAIN_QUIET_MAX_MS) });
}
