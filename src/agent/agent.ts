// One instance's agent: serves the Lambda Runtime API to one runtime process,
// queues invocations for it, enforces the init timeout and each invocation's
// deadline, and restarts the process after a timeout or a crash — as Lambda
// does with an execution environment.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { LIMITS } from '../api/function.js';
import type { InvokeRequest, InvokeResult } from './invocation.js';
import {
  exitError,
  outOfMemoryError,
  initTimeoutError,
  normalisePostedError,
  responseTooLargeError,
  RUNTIME_API_ERRORS,
  timeoutError,
  truncatedError,
  unhandledResult,
  type LambdaErrorBody,
} from './lambda-errors.js';
import { encodeTail, findRequestId, LineBuffer } from './log-tail.js';
import { closingLines, DEFAULT_LOG_SETTINGS, formatApplicationLine, jsonRequestId, openingLines, recordsInLog, sandboxErrorLine, type LogSettings } from './log-format.js';
import { DEFAULT_MAX_LINE_BYTES, LineCutter } from './line-cut.js';
import { StreamSink, type OutputSink } from './output-sink.js';
import { peakMemoryKB } from './report-lines.js';
import { routeRuntimeApi, type RuntimeApi } from './runtime-api-routes.js';
import { sendJson } from './http-io.js';
import { terminate } from './process-reaper.js';
import type { RuntimePeer } from './runtime-peer.js';
import type { RuntimeLauncher } from './spawn-launcher.js';
import { startInvokeServer, type InvokeServer, type InvokeServerOptions } from './invoke-server.js';
import { NotDeliveredError } from './delivery.js';
import { functionArn } from '../api/lambda-arn.js';
import { StreamRelay } from '../streaming/stream-relay.js';
import { DEFAULT_STREAM_CONTENT_TYPE, ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER } from '../streaming/response-stream.js';
import { InvocationTrace, untracedRuntimeHeaders } from '../tracing/agent-spans.js';

export type AgentState = 'starting' | 'ready' | 'failed' | 'closed';

export type AgentEvent =
  | { type: 'state'; state: AgentState }
  /** The runtime finished its init (first /next): a cold start. */
  | { type: 'init'; durationMs: number }
  | { type: 'exit'; code: number | null; signal: string | null; phase: 'init' | 'invoke' | 'idle' }
  | { type: 'restart'; reason: 'timeout' | 'exit' | 'init-retry' }
  /** The agent stopped taking new invocations (beginDrain). */
  | { type: 'draining' }
  /** An invocation the runtime was handed ended (its caller has the result, or the end of its stream). */
  | { type: 'invoked'; outcome: InvokeResult['outcome']; durationMs: number };

export interface DrainResult {
  /** Queued invocations still waiting for the runtime at the drain timeout, refused as not delivered. */
  handedBack: number;
}

export interface AgentOptions {
  functionName: string;
  memoryMB?: number;
  timeoutSeconds?: number;
  /** Invocations handed to the runtime at once (AWS_LAMBDA_MAX_CONCURRENCY). */
  concurrency?: number;
  /** Default for callers that send none (the emulator-compatible endpoint). */
  functionArn?: string;
  /** Port of the Runtime API on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  initTimeoutMs?: number;
  responseLimitBytes?: number;
  /**
   * Starts the runtime process. Without one the agent serves an external
   * runtime (a test, or a container started by someone else): it still
   * enforces deadlines but cannot kill or restart the runtime.
   */
  launcher?: RuntimeLauncher;
  /**
   * Without a launcher: how to see and stop the runtime someone else started
   * (in a pod, the runtime container's processes). Its death mid-invocation
   * then answers Runtime.ExitError, and an overrun kills it.
   */
  peer?: RuntimePeer;
  logger?: Logger;
  /** Between SIGTERM and SIGKILL on close. */
  killGraceMs?: number;
  /**
   * How long a drain lets queued invocations wait for the runtime before it
   * refuses them as not delivered (the dispatcher then sends them to another
   * instance). Those already handed over always run to their answer, so a
   * drain ends within this plus one invocation timeout. Default: the
   * function's timeout.
   */
  drainTimeoutMs?: number;
  onEvent?: (e: AgentEvent) => void;
  /**
   * Where the runtime's stdout/stderr lines go, read with back-pressure
   * (default: this process's stdout, as JSON lines; the embedded platform
   * gives a size-capped file per function).
   */
  output?: OutputSink;
  /** Bytes kept of one output line; the rest is cut (default 64 KiB). */
  maxLineBytes?: number;
  /** The function's logging controls (spec.logging): Text as written, or JSON lines filtered by level (log-format.ts). */
  logging?: LogSettings;
  /** The version the instance runs, for START / platform.start (default $LATEST). */
  version?: string;
}

interface Pending {
  req: InvokeRequest;
  resolve: (r: InvokeResult) => void;
  /** Only ever with a NotDeliveredError: the invocation never reached the runtime. */
  reject: (err: NotDeliveredError) => void;
  startedAt: number;
  /** The timeout counted from hand-over (the request's, else the agent's). */
  timeoutMs: number;
  timer?: NodeJS.Timeout;
  logs?: LineBuffer;
  initDurationMs?: number;
  done: boolean;
  /** Set once the runtime began streaming its response: the caller already has the stream, its end goes there. */
  relay?: StreamRelay;
  /** A streamed post is being read whole (readWholePost): a second answer is refused, as for a relayed one. */
  posting?: boolean;
  /** The agent's and the invocation's spans, when this process traces (src/tracing). */
  trace?: InvocationTrace;
  /** START or platform.start, written at hand-over, for the log tail. */
  opening?: string[];
}

type InitFailure =
  | { kind: 'posted'; payload: Buffer; errorType: string }
  | { kind: 'exit'; code: number | null; signal: string | null }
  | { kind: 'timeout' };

const SYNC_PAYLOAD_LIMIT = LIMITS.syncPayloadBytes;
/** How long a restart waits for the old runtime's pipes to close (a grandchild holding them must not hold up the restart). */
const RELEASE_WAIT_MS = 2_000;

export class Agent implements RuntimeApi {
  readonly functionName: string;
  readonly memoryMB: number;
  readonly timeoutSeconds: number;
  readonly concurrency: number;
  readonly functionArn: string;
  private readonly initTimeoutMs: number;
  private readonly responseLimit: number;
  private readonly launcher: RuntimeLauncher | undefined;
  private readonly log: Logger;
  private readonly killGraceMs: number;
  private readonly drainTimeoutMs: number;
  private readonly listeners = new Set<(e: AgentEvent) => void>();
  private readonly output: OutputSink;
  private readonly logSettings: LogSettings;

  private server: Server | undefined;
  private invokeServers: InvokeServer[] = [];
  private port = 0;
  private stateValue: AgentState = 'starting';
  private drainingValue = false;
  private proc: ChildProcess | undefined;
  private launchedAt = 0;
  private initTimer: NodeJS.Timeout | undefined;
  private initFailure: InitFailure | undefined;
  /** Init duration waiting to be attached to the first invocation after a (re)start. */
  private coldInitMs: number | undefined;
  private readonly queue: Pending[] = [];
  private readonly inflight = new Map<string, Pending>();
  private readonly parked: ServerResponse[] = [];
  /** Per launched process: resolves once its output pipes closed, i.e. every process holding them (the runtime) is gone. */
  private readonly released = new WeakMap<ChildProcess, Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private settleWaiters: ((s: AgentState) => void)[] = [];
  private restarting: Promise<void> | undefined;
  private readyAtValue: number | undefined;
  /** An external runtime's processes being looked for before its first hand-over (confirmPeer): pump waits. */
  private peerConfirming: Promise<void> | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.functionName = opts.functionName;
    this.memoryMB = opts.memoryMB ?? LIMITS.memoryMB.default;
    this.timeoutSeconds = opts.timeoutSeconds ?? LIMITS.timeoutSeconds.default;
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.functionArn = opts.functionArn ?? functionArn(opts.functionName);
    this.initTimeoutMs = opts.initTimeoutMs ?? LIMITS.initTimeoutSeconds * 1000;
    this.responseLimit = opts.responseLimitBytes ?? LIMITS.responseBytes;
    this.launcher = opts.launcher;
    this.log = (opts.logger ?? pino({ level: process.env.HEARTH_LOG_LEVEL ?? 'info' })).child({ fn: opts.functionName });
    this.killGraceMs = opts.killGraceMs ?? 2000;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? this.timeoutSeconds * 1000;
    if (opts.onEvent) this.listeners.add(opts.onEvent);
    this.output = opts.output ?? new StreamSink();
    this.logSettings = opts.logging ?? DEFAULT_LOG_SETTINGS;
  }

  get state(): AgentState {
    return this.stateValue;
  }

  /** A drain has begun: new invocations are refused, those accepted run to their answers. */
  get draining(): boolean {
    return this.drainingValue;
  }

  /** Epoch ms of the last completed init. */
  get readyAt(): number | undefined {
    return this.readyAtValue;
  }

  /** The init error of the last start, when state is `failed`. */
  get initError(): InvokeResult | undefined {
    return this.initFailure !== undefined ? this.initErrorFor('', this.initFailure) : undefined;
  }

  /** host:port of the Runtime API, for AWS_LAMBDA_RUNTIME_API. */
  get runtimeApi(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Invocations queued or running. */
  get load(): number {
    return this.queue.length + this.inflight.size;
  }

  /** Listeners now registered (onEvent's included): a request that went away leaves none behind. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  on(listener: (e: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens the Runtime API and launches the runtime (if the agent has a launcher). */
  async start(): Promise<void> {
    const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => routeRuntimeApi(this, req, res));
    server.headersTimeout = 60_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.opts.peer?.watch(() => this.onPeerExit());
    await this.launch();
  }

  /** Also serve the HTTP invoke endpoint (and /healthz, /readyz) on host:port. */
  async listenInvoke(host = '127.0.0.1', port = 0, opts: InvokeServerOptions = {}): Promise<{ host: string; port: number; url: string }> {
    const s = await startInvokeServer(this, host, port, SYNC_PAYLOAD_LIMIT, opts);
    this.invokeServers.push(s);
    return s.address;
  }

  /** Resolves once the current start has ended, ready or failed. */
  settled(): Promise<AgentState> {
    if (this.stateValue !== 'starting') return Promise.resolve(this.stateValue);
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  /**
   * Runs an invocation. Rejects only with a NotDeliveredError, when the agent
   * is draining or closed: the invocation never reached the runtime and may
   * be sent to another instance. Everything else is a result.
   */
  invoke(req: InvokeRequest): Promise<InvokeResult> {
    return new Promise((resolve, reject) => {
      if (this.stateValue === 'closed' || this.drainingValue) {
        reject(notDelivered(req.requestId, this.stateValue === 'closed' ? 'has stopped' : 'is draining'));
        return;
      }
      const p: Pending = { req, resolve, reject, startedAt: 0, timeoutMs: this.timeoutFor(req), done: false };
      const trace = InvocationTrace.start(req, this.functionName);
      if (trace !== undefined) p.trace = trace;
      if (req.tailLogs === true) p.logs = new LineBuffer();
      this.queue.push(p);
      // Lambda retries a failed init on the next invocation.
      if (this.stateValue === 'failed') void this.restart('init-retry');
      else this.pump();
    });
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.load === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** From now on /readyz fails and new invocations are refused as not delivered; accepted ones go on. */
  beginDrain(): void {
    if (this.drainingValue || this.stateValue === 'closed') return;
    this.drainingValue = true;
    this.log.info({ queued: this.queue.length, running: this.inflight.size }, 'draining');
    this.emit({ type: 'draining' });
  }

  /**
   * Begins the drain and resolves once the agent is empty. Invocations still
   * queued after `timeoutMs` (default: the agent's drainTimeoutMs) are refused
   * as not delivered; those the runtime has taken run to their answer, which
   * the agent's deadlines bound.
   */
  async drain(opts: { timeoutMs?: number } = {}): Promise<DrainResult> {
    this.beginDrain();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.idle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), opts.timeoutMs ?? this.drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return { handedBack: 0 };
    const queued = this.queue.splice(0);
    for (const p of queued) this.refuse(p, 'is draining');
    if (queued.length > 0) this.log.warn({ handedBack: queued.length }, 'drain timed out; queued invocations handed back');
    await this.idle();
    return { handedBack: queued.length };
  }

  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.initTimer);
    this.opts.peer?.stop();
    for (const p of [...this.inflight.values()]) {
      this.finish(p, unhandledResult(exitError(p.req.requestId, null, 'SIGTERM'), this.elapsed(p)));
    }
    // Queued calls never reached the runtime: another instance may take them.
    for (const p of this.queue.splice(0)) this.refuse(p, 'has stopped');
    const proc = this.proc;
    this.proc = undefined;
    for (const res of this.parked.splice(0)) res.destroy();
    await Promise.all([
      proc ? terminate(proc, this.killGraceMs) : Promise.resolve(),
      ...this.invokeServers.map((s) => s.close()),
      this.closeServer(),
    ]);
    this.wakeIdle();
  }

  // ---- Runtime API (called by runtime-api-routes) ----

  onNext(res: ServerResponse): void {
    if (this.stateValue === 'closed') {
      sendJson(res, 403, RUNTIME_API_ERRORS.invalidStateTransition('the instance is closed'));
      return;
    }
    if (this.stateValue === 'failed') {
      if (this.launcher !== undefined) {
        sendJson(res, 403, RUNTIME_API_ERRORS.invalidStateTransition('init failed; the runtime is being stopped'));
        return;
      }
      // An external runtime that comes back after an init error starts over.
      this.initFailure = undefined;
      this.setState('starting');
    }
    if (this.launcher !== undefined && this.proc === undefined) {
      // No runtime of ours is running (a restart is between the old one and
      // the new): this is the old runtime, outliving the process the agent
      // started by moments. Taking it for the new one's first /next would
      // hand it events it can never answer.
      res.destroy();
      return;
    }
    if (this.stateValue === 'starting') {
      this.initDone();
      this.confirmPeer();
    }
    this.parked.push(res);
    // Not heard for a /next pipelined behind a post not yet answered (node queues its response unbound to the socket): pump checks waiting().
    res.once('close', () => {
      const i = this.parked.indexOf(res);
      if (i >= 0) this.parked.splice(i, 1);
    });
    this.pump();
  }

  onResponse(id: string, body: Buffer, tooLarge: boolean, res: ServerResponse): void {
    const p = this.inflight.get(id);
    if (p === undefined || p.done || p.relay !== undefined || p.posting === true) {
      sendJson(res, 400, RUNTIME_API_ERRORS.invalidRequestId);
      return;
    }
    if (tooLarge) {
      sendJson(res, 413, RUNTIME_API_ERRORS.payloadTooLarge(this.responseLimit));
      this.complete(p, unhandledResult(responseTooLargeError(this.responseLimit), this.elapsed(p)), 'error');
      return;
    }
    accepted(res);
    this.complete(p, { outcome: 'success', payload: body, durationMs: this.elapsed(p) });
  }

  onError(id: string, body: Buffer, errorTypeHeader: string | undefined, handled: boolean, res: ServerResponse): void {
    const p = this.inflight.get(id);
    if (p === undefined || p.done || p.relay !== undefined || p.posting === true) {
      sendJson(res, 400, RUNTIME_API_ERRORS.invalidRequestId);
      return;
    }
    accepted(res);
    const { payload, errorType } = normalisePostedError(body, errorTypeHeader);
    this.complete(p, { outcome: handled ? 'handled' : 'unhandled', payload, errorType, durationMs: this.elapsed(p) }, handled ? undefined : 'error');
  }

  /**
   * A streamed /response: the caller gets the stream at once and reads the
   * runtime's writes as they come; the invocation goes on (the runtime is
   * busy, its deadline runs) until the post ends. A failure after the first
   * byte arrives in the post's trailers, as AWS's runtime clients send it.
   */
  onStreamResponse(id: string, req: IncomingMessage, res: ServerResponse): void {
    const p = this.inflight.get(id);
    if (p === undefined || p.done || p.relay !== undefined || p.posting === true) {
      req.resume();
      sendJson(res, 400, RUNTIME_API_ERRORS.invalidRequestId);
      return;
    }
    if (p.req.acceptStream !== true) {
      this.readWholePost(p, req, res);
      return;
    }
    const contentType = req.headers['content-type'];
    const relay = new StreamRelay(req, contentType !== undefined && contentType !== '' ? contentType : DEFAULT_STREAM_CONTENT_TYPE);
    p.relay = relay;
    req.once('end', () => {
      accepted(res);
      const type = trailer(req, ERROR_TYPE_TRAILER);
      const body = trailer(req, ERROR_BODY_TRAILER);
      if (type === undefined && body === undefined) {
        this.complete(p, { outcome: 'success', payload: Buffer.alloc(0), durationMs: this.elapsed(p) });
        return;
      }
      const posted = normalisePostedError(Buffer.from(body ?? '', 'base64'), type);
      this.complete(p, { outcome: 'unhandled', payload: posted.payload, errorType: posted.errorType, durationMs: this.elapsed(p) }, 'error');
    });
    this.onPostCut(p, req);
    const answer: InvokeResult = { outcome: 'success', payload: Buffer.alloc(0), durationMs: this.elapsed(p), stream: relay.stream };
    if (p.initDurationMs !== undefined) answer.initDurationMs = p.initDurationMs;
    p.resolve(answer);
  }

  /**
   * A streamed post whose caller takes only a whole answer (Invoke, queued
   * events, BUFFERED URLs; and aws-lambda-go posts every answer so, plain
   * JSON ones included): read whole, as a plain /response, with no relay and
   * no stream to buffer again downstream. Its end says how it went: Lambda's
   * error trailers, or more than the response limit (the rest is read and
   * dropped so the function can finish, as with a plain post).
   */
  private readWholePost(p: Pending, req: IncomingMessage, res: ServerResponse): void {
    p.posting = true;
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes <= this.responseLimit) chunks.push(c);
      else chunks.length = 0;
    });
    req.once('end', () => {
      accepted(res);
      const type = trailer(req, ERROR_TYPE_TRAILER);
      const body = trailer(req, ERROR_BODY_TRAILER);
      if (type !== undefined || body !== undefined) {
        const posted = normalisePostedError(Buffer.from(body ?? '', 'base64'), type);
        this.complete(p, { outcome: 'unhandled', payload: posted.payload, errorType: posted.errorType, durationMs: this.elapsed(p) }, 'error');
      } else if (bytes > this.responseLimit) {
        this.complete(p, unhandledResult(responseTooLargeError(this.responseLimit), this.elapsed(p)), 'error');
      } else {
        this.complete(p, { outcome: 'success', payload: chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks), durationMs: this.elapsed(p) });
      }
    });
    this.onPostCut(p, req);
  }

  /** The post cut short with the runtime still alive (its exit, if that is why, is reported as such first). */
  private onPostCut(p: Pending, req: IncomingMessage): void {
    req.once('close', () => {
      if (req.complete) return;
      setTimeout(() => this.complete(p, unhandledResult(truncatedError(p.req.requestId, "the runtime's response stream ended before it was complete"), this.elapsed(p)), 'error'), STREAM_CUT_GRACE_MS).unref();
    });
  }

  onInitError(body: Buffer, errorTypeHeader: string | undefined, res: ServerResponse): void {
    if (this.stateValue !== 'starting') {
      sendJson(res, 403, RUNTIME_API_ERRORS.invalidStateTransition('init/error is only allowed during init'));
      return;
    }
    sendJson(res, 202, { status: 'OK' });
    const { payload, errorType } = normalisePostedError(body, errorTypeHeader);
    this.initFailed({ kind: 'posted', payload, errorType });
  }

  responseLimitBytes(): number {
    return this.responseLimit;
  }

  errorLimitBytes(): number {
    return SYNC_PAYLOAD_LIMIT;
  }

  // ---- lifecycle ----

  private async launch(): Promise<void> {
    this.initFailure = undefined;
    this.coldInitMs = undefined;
    this.setState('starting');
    this.launchedAt = performance.now();
    clearTimeout(this.initTimer);
    this.initTimer = setTimeout(() => this.initFailed({ kind: 'timeout' }), this.initTimeoutMs);
    if (this.launcher === undefined) return;
    let proc: ChildProcess;
    try {
      proc = await this.launcher.launch(this.runtimeApi);
    } catch (err) {
      this.initFailed({ kind: 'posted', errorType: 'Runtime.InvalidEntrypoint', payload: errorPayload('Runtime.InvalidEntrypoint', String(err)) });
      return;
    }
    if (this.stateValue === 'closed') {
      proc.kill('SIGKILL');
      return;
    }
    this.proc = proc;
    this.released.set(proc, new Promise((resolve) => proc.once('close', () => resolve())));
    this.attachOutput(proc);
    proc.once('error', (err) => {
      if (this.proc !== proc) return;
      this.proc = undefined;
      this.initFailed({ kind: 'posted', errorType: 'Runtime.InvalidEntrypoint', payload: errorPayload('Runtime.InvalidEntrypoint', err.message) });
    });
    proc.once('exit', (code, signal) => this.onExit(proc, code, signal));
  }

  private attachOutput(proc: ChildProcess): void {
    const sink = this.output;
    for (const [name, stream] of [['stdout', proc.stdout], ['stderr', proc.stderr]] as const) {
      if (stream === null) continue;
      let behind = false;
      const cutter = new LineCutter(this.opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, (line, cut) => {
        if (!this.onLine(sink, line, name, cut)) behind = true;
      });
      stream.on('data', (c: Buffer) => {
        cutter.write(c);
        if (!behind) return;
        // The sink is behind: stop reading, so the pipe fills and the function waits on its writes.
        behind = false;
        stream.pause();
        void sink.drained().then(() => stream.resume());
      });
      stream.once('end', () => cutter.flush());
    }
  }

  /** False when the sink asks to hold further output. */
  private onLine(sink: OutputSink, line: string, stream: 'stdout' | 'stderr', cutBytes: number): boolean {
    let owner: Pending | undefined;
    if (this.inflight.size === 1) {
      owner = this.inflight.values().next().value;
    } else if (this.inflight.size > 1) {
      const known = (s: string): boolean => this.inflight.has(s);
      const id = findRequestId(line, known) ?? (this.logSettings.format === 'JSON' ? jsonRequestId(line, known) : undefined);
      owner = id !== undefined ? this.inflight.get(id) : undefined;
    }
    const requestId = owner?.req.requestId;
    const written = formatApplicationLine(line, requestId, new Date(), this.logSettings);
    // Below the function's applicationLogLevel: neither its log nor the tail sees it.
    if (written === undefined) return true;
    owner?.logs?.push(written);
    return sink.write({ functionName: this.functionName, line: written, stream, requestId, cutBytes });
  }

  private initDone(): void {
    clearTimeout(this.initTimer);
    const ms = performance.now() - this.launchedAt;
    this.coldInitMs = ms;
    this.readyAtValue = Date.now();
    this.setState('ready');
    this.emit({ type: 'init', durationMs: ms });
  }

  /**
   * A runtime started apart asked for its first invocation: it is alive and
   * waiting now, so have the peer see its processes before handing it
   * anything; one that dies on its first invocation is then reported at once
   * instead of leaving that invocation to its timeout. Once per init, never
   * per warm call.
   */
  private confirmPeer(): void {
    if (this.launcher !== undefined) return;
    const confirming = this.opts.peer?.confirm();
    if (confirming === undefined) return;
    this.peerConfirming = confirming;
    void confirming.then(() => {
      if (this.peerConfirming !== confirming) return;
      this.peerConfirming = undefined;
      this.pump();
    });
  }

  private initFailed(f: InitFailure): void {
    if (this.stateValue !== 'starting') return;
    clearTimeout(this.initTimer);
    this.initFailure = f;
    const proc = this.proc;
    this.proc = undefined;
    if (proc) void terminate(proc, 0);
    for (const res of this.parked.splice(0)) res.destroy();
    this.setState('failed');
    for (const p of this.queue.splice(0)) this.finish(p, this.initErrorFor(p.req.requestId, f));
    this.wakeIdle();
  }

  private initErrorFor(requestId: string, f: InitFailure): InvokeResult {
    switch (f.kind) {
      case 'posted':
        return { outcome: 'unhandled', payload: f.payload, errorType: f.errorType, durationMs: 0 };
      case 'exit':
        return unhandledResult(exitError(requestId, f.code, f.signal), 0);
      case 'timeout':
        return unhandledResult(initTimeoutError(requestId, this.initTimeoutMs / 1000), 0);
    }
  }

  private onExit(proc: ChildProcess, code: number | null, signal: string | null): void {
    if (this.proc !== proc) return; // a process we already replaced or killed on purpose
    this.proc = undefined;
    const phase = this.stateValue === 'starting' ? 'init' : this.inflight.size > 0 ? 'invoke' : 'idle';
    this.log.warn({ code, signal, phase }, 'runtime exited');
    this.emit({ type: 'exit', code, signal, phase });
    if (phase === 'init') {
      this.initFailed({ kind: 'exit', code, signal });
      return;
    }
    // Only the launcher can tell an OOM kill (its sandbox counts them) from any other exit 137.
    const oom = this.launcher?.exitCause?.(proc) === 'oom';
    for (const p of [...this.inflight.values()]) {
      this.complete(p, unhandledResult(oom ? outOfMemoryError(p.req.requestId) : exitError(p.req.requestId, code, signal), this.elapsed(p)), 'error');
    }
    if (this.stateValue === 'ready') void this.restart('exit', proc);
  }

  /** The external runtime's processes are gone: its invocations failed with it, and the next one to come inits anew. */
  private onPeerExit(): void {
    if (this.stateValue === 'closed') return;
    const phase = this.stateValue === 'starting' ? 'init' : this.inflight.size > 0 ? 'invoke' : 'idle';
    this.log.warn({ phase }, 'runtime exited');
    this.emit({ type: 'exit', code: null, signal: null, phase });
    for (const p of [...this.inflight.values()]) this.complete(p, unhandledResult(exitError(p.req.requestId, null, null), this.elapsed(p)), 'error');
    for (const res of this.parked.splice(0)) res.destroy();
    if (this.stateValue === 'ready') this.setState('starting');
  }

  /** Kills the runtime (if any; `exited` names one that already exited), then launches a fresh one that goes through init again. */
  private restart(reason: 'timeout' | 'exit' | 'init-retry', exited?: ChildProcess): Promise<void> {
    const peer = this.opts.peer;
    if (this.launcher === undefined && peer !== undefined && this.stateValue !== 'closed') {
      // Someone else restarts it (the kubelet); killing it is ours to do.
      this.emit({ type: 'restart', reason });
      return peer.kill();
    }
    if (this.launcher === undefined || this.stateValue === 'closed') return Promise.resolve();
    if (this.restarting) return this.restarting;
    this.emit({ type: 'restart', reason });
    const old = this.proc ?? exited;
    this.proc = undefined;
    this.setState('starting');
    this.restarting = (async () => {
      if (old) {
        await terminate(old, 0);
        // The process the agent started may not be the runtime itself (a
        // sandbox's bwrap): the runtime can outlive it by moments and ask
        // /next meanwhile. Its output pipes close only when it is gone too.
        await Promise.race([this.released.get(old), sleep(RELEASE_WAIT_MS, undefined, { ref: false })]);
      }
      // Requests and connections of the old runtime must not be mistaken for the new one's.
      for (const res of this.parked.splice(0)) res.destroy();
      this.server?.closeAllConnections();
      for (const p of [...this.inflight.values()]) this.complete(p, unhandledResult(exitError(p.req.requestId, null, 'SIGKILL'), this.elapsed(p)), 'error');
      if (this.stateValue !== 'closed') await this.launch();
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  // ---- invocations ----

  private pump(): void {
    if (this.peerConfirming !== undefined) return;
    while (this.stateValue === 'ready' && this.queue.length > 0 && this.parked.length > 0 && this.inflight.size < this.concurrency) {
      const res = this.parked.shift();
      if (res === undefined || !waiting(res)) continue;
      const p = this.queue.shift();
      if (p === undefined) break;
      this.handOver(res, p);
    }
  }

  /** The request's timeout when it carries a usable one, else the function's as the agent knows it. */
  private timeoutFor(req: InvokeRequest): number {
    return Number.isFinite(req.timeoutMs) && req.timeoutMs > 0 ? req.timeoutMs : this.timeoutSeconds * 1000;
  }

  /**
   * Gives an event to a waiting /next. The deadline starts here, not when the
   * call was dispatched: time spent queued for a free runtime loop (or for an
   * init) must not eat the function's timeout.
   */
  private handOver(res: ServerResponse, p: Pending): void {
    const { req } = p;
    // The head as one flat list given to writeHead: no setHeader per header (each validated and stored apart); once per call.
    const headers: string[] = [
      'content-type', 'application/json',
      'content-length', String(req.payload.length),
      'lambda-runtime-aws-request-id', req.requestId,
      'lambda-runtime-deadline-ms', String(Date.now() + p.timeoutMs),
      'lambda-runtime-invoked-function-arn', req.invokedFunctionArn,
    ];
    if (req.clientContext !== undefined) headers.push('lambda-runtime-client-context', req.clientContext);
    if (req.cognitoIdentity !== undefined) headers.push('lambda-runtime-cognito-identity', req.cognitoIdentity);
    const cold = this.coldInitMs;
    if (cold !== undefined) {
      p.initDurationMs = cold;
      this.coldInitMs = undefined;
    }
    // The runtime's trace: the invocation span when tracing, else the caller's as it came (src/tracing/agent-spans.ts).
    const trace = p.trace ? p.trace.handOver(cold !== undefined ? { startedAt: this.launchedAt, durationMs: cold } : undefined) : untracedRuntimeHeaders(req);
    if (trace.xray !== undefined) headers.push('lambda-runtime-trace-id', trace.xray);
    if (trace.traceparent !== undefined) headers.push('traceparent', trace.traceparent);
    p.startedAt = performance.now();
    // Text's START goes only into a log tail, and is built then (closeLog); JSON's platform.start is timed now.
    if (recordsInLog(this.logSettings)) {
      p.opening = openingLines(this.logSettings, req.requestId, this.opts.version);
      this.writeRecords(p.opening, req.requestId);
    }
    this.inflight.set(req.requestId, p);
    p.timer = setTimeout(() => this.onTimeout(p), p.timeoutMs);
    res.writeHead(200, headers);
    res.end(req.payload);
  }

  private onTimeout(p: Pending): void {
    if (p.done) return;
    this.complete(p, unhandledResult(timeoutError(p.req.requestId, p.timeoutMs / 1000), this.elapsed(p)), 'timeout');
    // The runtime may be stuck anywhere: Lambda throws the environment away.
    void this.restart('timeout');
  }

  private elapsed(p: Pending): number {
    return p.startedAt > 0 ? performance.now() - p.startedAt : 0;
  }

  /**
   * Ends an invocation. Resolving waits one turn of the event loop so output
   * the runtime wrote just before answering (already in the pipe) is read
   * and counted to this invocation.
   */
  private complete(p: Pending, result: InvokeResult, status?: 'timeout' | 'error'): void {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.timer);
    if (p.initDurationMs !== undefined) result.initDurationMs = p.initDurationMs;
    setImmediate(() => {
      this.inflight.delete(p.req.requestId);
      this.settle(p, result, this.closeLog(p, result, status));
      this.wakeIdle();
      this.pump();
    });
  }

  /** Gives the invocation's end to its caller: the result, or the end of the stream it already has. */
  private settle(p: Pending, result: InvokeResult, logTail: string | undefined): void {
    p.trace?.end(result);
    this.emit({ type: 'invoked', outcome: result.outcome, durationMs: result.durationMs });
    if (p.relay === undefined) {
      if (logTail !== undefined) result.logTail = logTail;
      p.resolve(result);
      return;
    }
    p.relay.finish({
      durationMs: result.durationMs,
      ...(result.outcome !== 'success' ? { error: { errorType: result.errorType ?? 'Unhandled', payload: result.payload } } : {}),
      ...(logTail !== undefined ? { logTail } : {}),
    });
  }

  /** Ends an invocation that never reached the runtime, or on close. */
  private finish(p: Pending, result: InvokeResult): void {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.timer);
    this.inflight.delete(p.req.requestId);
    this.settle(p, result, this.closeLog(p, result, 'error'));
  }

  /** Ends a queued invocation the runtime never saw, as not delivered. */
  private refuse(p: Pending, why: string): void {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.timer);
    p.trace?.end(undefined, `not delivered: the agent ${why}`);
    p.reject(notDelivered(p.req.requestId, why));
  }

  /**
   * The invocation's closing lines (END and REPORT, or in JSON the platform
   * records, also written to the function's log) and its log tail when the
   * caller asked for one.
   */
  private closeLog(p: Pending, result: InvokeResult, status?: 'timeout' | 'error'): string | undefined {
    const toLog = recordsInLog(this.logSettings) && p.startedAt > 0;
    if (p.logs === undefined && !toLog) return undefined;
    const id = p.req.requestId;
    const sandboxError = result.outcome !== 'success' && status !== undefined ? sandboxErrorLine(this.logSettings, id, errorSummary(result.payload)) : undefined;
    const closing = closingLines(this.logSettings, {
      requestId: id,
      durationMs: result.durationMs,
      memorySizeMB: this.memoryMB,
      maxMemoryUsedMB: this.peakMemory(),
      ...(p.initDurationMs !== undefined ? { initDurationMs: p.initDurationMs } : {}),
      ...(status !== undefined ? { status } : {}),
    });
    if (toLog) this.writeRecords(sandboxError !== undefined ? [sandboxError, ...closing] : closing, id);
    if (p.logs === undefined) return undefined;
    const opening = p.opening ?? openingLines(this.logSettings, id, this.opts.version);
    return encodeTail([...opening, ...p.logs.all, ...(sandboxError !== undefined ? [sandboxError] : []), ...closing]);
  }

  /** Platform records into the function's log (JSON only: a Text log keeps the runtime's lines alone, as before). */
  private writeRecords(lines: readonly string[], requestId: string): void {
    if (!recordsInLog(this.logSettings)) return;
    // Few and small: written without waiting on the sink, whose back-pressure holds the runtime's own output.
    for (const line of lines) this.output.write({ functionName: this.functionName, line, stream: 'stdout', requestId, cutBytes: 0 });
  }

  /**
   * The runtime's peak memory in MB: its own and its direct children's (the
   * Python runtime's worker processes at concurrency > 1), summed per process.
   */
  private peakMemory(): number {
    const pid = this.proc?.pid;
    if (pid === undefined) return 0;
    let kB = 0;
    try {
      kB += peakMemoryKB(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return 0;
    }
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter((s) => s.length > 0);
    } catch {
      // Kernels without CONFIG_PROC_CHILDREN: the runtime process alone.
    }
    for (const child of children) {
      try {
        kB += peakMemoryKB(readFileSync(`/proc/${child}/status`, 'utf8'));
      } catch {
        // The child ended meanwhile.
      }
    }
    return Math.ceil(kB / 1024);
  }

  private wakeIdle(): void {
    if (this.load > 0 && this.stateValue !== 'closed') return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private setState(s: AgentState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.emit({ type: 'state', state: s });
    if (s !== 'starting') {
      const waiters = this.settleWaiters;
      this.settleWaiters = [];
      for (const w of waiters) w(s);
    }
  }

  private emit(e: AgentEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err }, 'agent event listener failed');
      }
    }
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** How long a streamed post cut short waits for the runtime's exit to be seen, so a crash is reported as Runtime.ExitError. */
const STREAM_CUT_GRACE_MS = 200;

/** The Runtime API's 202 to each answer a runtime posts, built once: one is written per invocation. */
const ACCEPTED_BODY = JSON.stringify({ status: 'OK' });
const ACCEPTED_HEADERS = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ACCEPTED_BODY) };

function accepted(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(202, ACCEPTED_HEADERS);
  res.end(ACCEPTED_BODY);
}

function trailer(req: IncomingMessage, name: string): string | undefined {
  const v = req.trailers[name];
  return v !== undefined && v !== '' ? v : undefined;
}

function notDelivered(requestId: string, why: string): NotDeliveredError {
  return new NotDeliveredError('draining', `RequestId: ${requestId} Error: the instance ${why}; the invocation was not delivered`);
}

function errorPayload(errorType: string, errorMessage: string): Buffer {
  const doc: LambdaErrorBody = { errorType, errorMessage };
  return Buffer.from(JSON.stringify(doc));
}

/** The one-line summary Lambda writes to the log when the sandbox ends an invocation. */
function errorSummary(payload: Buffer): string {
  try {
    const doc = JSON.parse(payload.toString('utf8')) as Partial<LambdaErrorBody>;
    return doc.errorMessage ?? payload.toString('utf8');
  } catch {
    return payload.toString('utf8');
  }
}

/**
 * Whether a parked /next can still be answered. A runtime may send its
 * /next right behind its /response (HTTP/1.1 pipelining, as Hearth's Python
 * runtime does): node then queues the /next's response until the post's is
 * written, and a connection lost meanwhile never closes it, so the socket is
 * asked too.
 */
function waiting(res: ServerResponse): boolean {
  return !res.destroyed && !res.writableEnded && res.req.socket?.destroyed !== true;
}
