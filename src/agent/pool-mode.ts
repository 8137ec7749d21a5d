// The agent of a warm-pool pod (`hearth agent --pool`). Until a gateway
// claims the pod it knows no function: /readyz is 200 once the runtime
// container waits on its FIFO, and every call is refused as not delivered
// (the gateway's dispatcher sends it elsewhere). POST SPECIALIZE_PATH gives
// it one function, once: it writes the code, becomes that function's agent
// (an Agent serving the runtime container's Runtime API, as in a
// Deployment's pod) and hands the runtime its environment line. It answers
// without waiting for the runtime's init: calls sent right after wait in the
// agent's queue for the runtime's first /next, as in any starting pod.
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { LIMITS } from '../api/function.js';
import { functionArn } from '../api/lambda-arn.js';
import { SPECIALIZE_BODY_LIMIT, SPECIALIZE_PATH } from '../pools/specialization.js';
import { Agent, type AgentEvent, type AgentState } from './agent.js';
import { NotDeliveredError } from './delivery.js';
import { readBody, sendJson } from './http-io.js';
import type { InvokeRequest, InvokeResult } from './invocation.js';
import { startInvokeServer, type InvokeServer, type InvokeServerOptions, type Readiness } from './invoke-server.js';
import { procRuntimePeer, type RuntimePeer } from './runtime-peer.js';
import { checkSpecialization, readSaved, saveAgent, savedAgentOf, saveLine, sendLine, specializationLine, writeCode, type SavedAgent } from './specialize.js';

export type PoolPhase = 'idle' | 'specializing' | 'specialized' | 'failed';

export interface PoolReadinessInput {
  phase: PoolPhase;
  closed: boolean;
  /** The runtime container has made its FIFO: it is (about to be) waiting for its line. */
  fifoReady: boolean;
  /** A drain began (the pool agent's own, or its function agent's). */
  draining: boolean;
  /** The function agent's state, once specialised. */
  agentState?: AgentState;
  unit?: string;
  error?: string;
}

/** What /readyz answers in each phase. Pure. */
export function poolReadiness(i: PoolReadinessInput): Readiness {
  if (i.closed) return { ready: false, body: { status: 'closed' } };
  if (i.draining) return { ready: false, body: { status: 'draining', ...(i.unit !== undefined ? { unit: i.unit } : { pool: 'idle' }) } };
  switch (i.phase) {
    case 'idle':
      return i.fifoReady
        ? { ready: true, body: { status: 'idle', pool: 'idle pool pod: no function yet, its runtime waits for one' } }
        : { ready: false, body: { status: 'starting', pool: 'idle pool pod: its runtime has not started yet' } };
    case 'specializing':
      return { ready: false, body: { status: 'specializing' } };
    case 'failed':
      return { ready: false, body: { status: 'failed', ...(i.unit !== undefined ? { unit: i.unit } : {}), error: i.error ?? 'specialisation failed' } };
    case 'specialized':
      return { ready: i.agentState === 'ready', body: { status: i.agentState ?? 'starting', unit: i.unit } };
  }
}

export interface PoolAgentOptions {
  /** Where the function's code goes (the runtime container sees it read-only at the same path). */
  taskRoot: string;
  /** Where its layers go. */
  optDir: string;
  /** The runtime container's FIFO; env.json is saved beside it. */
  fifo: string;
  /** The Runtime API's port on 127.0.0.1 once specialised (0: any free one; tests). */
  runtimePort: number;
  logger?: Logger;
  /** How the function agent sees the runtime container (default: its processes in /proc, by the Runtime API they were given). */
  peer?: (runtimeApi: string) => RuntimePeer;
  initTimeoutMs?: number;
  /** How often the FIFO's appearance is looked for (default 50 ms). */
  fifoPollMs?: number;
  /** The function agent's events once specialised (the process's metrics), given the function's name. */
  onEvent?: (functionName: string) => (e: AgentEvent) => void;
}

function errorBody(errorType: string, errorMessage: string): { errorType: string; errorMessage: string } {
  return { errorType, errorMessage };
}

export class PoolAgent {
  private phase: PoolPhase = 'idle';
  private closed = false;
  private ownDraining = false;
  private fifoReady = false;
  private fifoTimer: NodeJS.Timeout | undefined;
  private agent: Agent | undefined;
  private unit: string | undefined;
  private failure: string | undefined;
  private specializing: Promise<void> | undefined;
  private fifoHandle: { close(): Promise<void> } | undefined;
  private readonly servers: InvokeServer[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly log: Logger;

  constructor(private readonly opts: PoolAgentOptions) {
    this.log = (opts.logger ?? pino({ level: process.env.HEARTH_LOG_LEVEL ?? 'info' })).child({ pool: true });
  }

  /** Idle, specialising, failed, closed, or once specialised the function agent's state. */
  get state(): string {
    if (this.closed) return 'closed';
    return this.phase === 'specialized' && this.agent !== undefined ? this.agent.state : this.phase;
  }

  get draining(): boolean {
    return this.ownDraining || (this.agent?.draining ?? false);
  }

  get timeoutSeconds(): number {
    return this.agent?.timeoutSeconds ?? LIMITS.timeoutSeconds.default;
  }

  get functionArn(): string {
    return this.agent?.functionArn ?? functionArn('pool');
  }

  /** The function agent, once specialised. */
  get functionAgent(): Agent | undefined {
    return this.agent;
  }

  /** Listeners now registered (a /readyz?wait that went away leaves none). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readiness(): Readiness {
    if (!this.fifoReady && this.phase === 'idle') this.lookForFifo();
    return poolReadiness({
      phase: this.phase,
      closed: this.closed,
      fifoReady: this.fifoReady,
      draining: this.draining,
      ...(this.agent !== undefined ? { agentState: this.agent.state } : {}),
      ...(this.unit !== undefined ? { unit: this.unit } : {}),
      ...(this.failure !== undefined ? { error: this.failure } : {}),
    });
  }

  /**
   * Resumes as the function's agent when this container restarted after
   * the claim (its record and line are beside the FIFO); otherwise watches
   * for the runtime's FIFO.
   */
  async start(): Promise<void> {
    const found = await readSaved(this.opts.fifo);
    if (found.kind === 'saved') return this.resume(found.saved, found.line);
    // Code without a saved record: a specialisation failed or was cut short before this container restarted.
    const leftover = found.kind === 'none' ? await this.leftoverCode() : undefined;
    if (found.kind === 'unreadable' || leftover !== undefined) {
      this.phase = 'failed';
      this.failure = found.kind === 'unreadable' ? found.message : leftover;
      this.log.error({ reason: this.failure }, 'this pool pod was claimed but cannot be its function agent again; it serves nothing');
      return;
    }
    this.lookForFifo();
    if (this.fifoReady) return;
    this.fifoTimer = setInterval(() => this.lookForFifo(), this.opts.fifoPollMs ?? 50);
    this.fifoTimer.unref();
  }

  /** The invoke endpoint, /healthz, /readyz, /drain and the specialisation, on host:port. */
  async listen(host = '127.0.0.1', port = 0, opts: InvokeServerOptions = {}): Promise<{ host: string; port: number; url: string }> {
    const s = await startInvokeServer(this, host, port, LIMITS.syncPayloadBytes, {
      ...opts,
      routes: { ...opts.routes, [SPECIALIZE_PATH]: (req, res) => this.onSpecialize(req, res) },
    });
    this.servers.push(s);
    return s.address;
  }

  invoke(req: InvokeRequest): Promise<InvokeResult> {
    if (this.phase === 'specialized' && this.agent !== undefined) return this.agent.invoke(req);
    // A call reaches a pod before its specialisation only by mistake (a stale endpoint): it never ran, so another instance may take it.
    const why = this.closed ? 'has stopped' : this.phase === 'failed' ? 'failed its specialisation' : 'is an idle pool pod that serves no function yet';
    return Promise.reject(new NotDeliveredError('draining', `RequestId: ${req.requestId} Error: the instance ${why}; the invocation was not delivered`));
  }

  async drain(): Promise<{ handedBack: number; neverServed?: boolean }> {
    if (this.specializing !== undefined) await this.specializing;
    if (this.phase === 'specialized' && this.agent !== undefined) return this.agent.drain();
    if (!this.ownDraining) {
      this.ownDraining = true;
      this.log.info({ phase: this.phase }, 'draining a pool pod that served no call');
      this.emit();
    }
    return { handedBack: 0, neverServed: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.fifoTimer);
    this.emit();
    await Promise.all([this.agent?.close(), ...this.servers.map((s) => s.close())]);
    await this.fifoHandle?.close().catch(() => undefined);
  }

  private async leftoverCode(): Promise<string | undefined> {
    for (const dir of [this.opts.taskRoot, this.opts.optDir]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      if (names.length > 0) return `${dir} holds files but no function was saved: a specialisation failed or was cut short`;
    }
    return undefined;
  }

  private async resume(saved: SavedAgent, line: string): Promise<void> {
    const log = this.log.child({ unit: saved.unit, fn: saved.functionName });
    this.unit = saved.unit;
    this.fifoReady = true;
    try {
      const agent = this.functionAgentFor(saved, log);
      this.agent = agent;
      agent.on(() => this.emit());
      await agent.start();
      this.phase = 'specialized';
    } catch (err) {
      this.phase = 'failed';
      this.failure = (err as Error).message;
      log.error({ err }, 'could not resume as the function agent');
      return;
    }
    // A runtime still waiting on the FIFO (this container stopped between the
    // line's save and its write) gets it now; one that read it never reads again.
    try {
      this.fifoHandle = await sendLine(this.opts.fifo, line);
    } catch (err) {
      log.warn({ err }, 'could not write the saved line to the FIFO again');
    }
    log.info('agent restarted after the claim: the function agent again');
  }

  private lookForFifo(): void {
    if (this.fifoReady) return;
    let isFifo = false;
    try {
      isFifo = statSync(this.opts.fifo).isFIFO();
    } catch {
      // Not made yet: the runtime container has not started.
    }
    if (!isFifo) return;
    this.fifoReady = true;
    clearInterval(this.fifoTimer);
    this.emit();
  }

  private emit(): void {
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch (err) {
        this.log.error({ err }, 'pool agent listener failed');
      }
    }
  }

  private async onSpecialize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    if (req.method !== 'POST') {
      req.resume();
      return sendJson(res, 405, errorBody('MethodNotAllowed', 'Method Not Allowed'));
    }
    const refuse = (status: number, errorType: string, message: string): void => {
      // The body is not read: the connection goes with this answer.
      res.shouldKeepAlive = false;
      req.resume();
      sendJson(res, status, errorBody(errorType, message), { connection: 'close' });
    };
    if (this.closed || this.draining) return refuse(503, 'Hearth.InstanceDraining', 'this pool pod is leaving and takes no function');
    if (this.phase !== 'idle') {
      const message = this.phase === 'specializing' ? 'a specialisation of this pod is under way' : `this pod was already given ${this.unit ?? 'a function'}; a claimed pod serves one function only`;
      return refuse(409, 'Hearth.AlreadySpecialized', message);
    }
    this.phase = 'specializing';
    let release!: () => void;
    this.specializing = new Promise((resolve) => (release = resolve));
    this.emit();
    try {
      const answer = await this.specialize(req, startedAt);
      sendJson(res, answer.status, answer.body);
    } catch (err) {
      // Thrown before any code was written (specialize answers for itself after): the pod is still idle.
      if (this.phase === 'specializing') this.phase = 'idle';
      this.log.error({ err }, 'specialisation refused');
      sendJson(res, 500, errorBody('Hearth.SpecializationFailed', (err as Error).message));
    } finally {
      this.specializing = undefined;
      release();
      this.emit();
    }
  }

  /** Runs one specialisation; its answer. The phase ends idle (nothing written), specialised or failed. */
  private async specialize(req: IncomingMessage, startedAt: number): Promise<{ status: number; body: unknown }> {
    const back = (status: number, errorType: string, message: string): { status: number; body: unknown } => {
      this.phase = 'idle';
      return { status, body: errorBody(errorType, message) };
    };
    let body: Awaited<ReturnType<typeof readBody>>;
    try {
      body = await readBody(req, SPECIALIZE_BODY_LIMIT);
    } catch (err) {
      // The caller went away mid-body: nothing was written, the pod is still idle.
      return back(400, 'InvalidRequestContentException', `the body could not be read: ${(err as Error).message}`);
    }
    if (body.tooLarge) return back(413, 'RequestTooLargeException', `${body.bytes} bytes is more than a specialisation may hold (${SPECIALIZE_BODY_LIMIT})`);
    const checked = checkSpecialization(body.body);
    if (!checked.ok) return back(400, 'InvalidParameterValueException', checked.message);
    this.lookForFifo();
    if (!this.fifoReady) return back(503, 'Hearth.RuntimeNotWaiting', `the runtime has not made ${this.opts.fifo} yet`);
    const spec = checked.spec;
    this.unit = spec.unit;
    const log = this.log.child({ unit: spec.unit, fn: spec.functionName });
    try {
      const written = await writeCode(spec, { taskRoot: this.opts.taskRoot, optDir: this.opts.optDir });
      if (this.closed) throw new Error('the agent is stopping');
      const agent = this.functionAgentFor(spec, log);
      this.agent = agent;
      agent.on(() => this.emit());
      await agent.start();
      const line = specializationLine(spec.env, agent.runtimeApi);
      await saveAgent(this.opts.fifo, savedAgentOf(spec));
      await saveLine(this.opts.fifo, line);
      this.fifoHandle = await sendLine(this.opts.fifo, line);
      this.phase = 'specialized';
      const specializedMs = Math.round(performance.now() - startedAt);
      log.info({ specializedMs, ...written }, 'specialised: the runtime has its environment');
      return { status: 200, body: { unit: spec.unit, specializedMs } };
    } catch (err) {
      // Whatever was written stays: this pod can serve nothing now, and the gateway has it deleted.
      this.phase = 'failed';
      this.failure = (err as Error).message;
      log.error({ err }, 'specialisation failed');
      await this.agent?.close();
      return { status: 500, body: errorBody('Hearth.SpecializationFailed', this.failure) };
    }
  }

  private functionAgentFor(spec: SavedAgent, log: Logger): Agent {
    const port = this.opts.runtimePort;
    const peer = this.opts.peer ?? ((api: string) => procRuntimePeer(api));
    // Known only once listening when the port is 0 (tests): look the runtime up by the address it was given.
    let agent: Agent | undefined = undefined;
    const lazyPeer: RuntimePeer = {
      watch: (onExit) => {
        inner ??= peer(agent?.runtimeApi ?? `127.0.0.1:${port}`);
        inner.watch(onExit);
      },
      confirm: () => inner?.confirm(),
      kill: () => (inner ?? peer(agent?.runtimeApi ?? `127.0.0.1:${port}`)).kill(),
      stop: () => inner?.stop(),
    };
    let inner: RuntimePeer | undefined;
    agent = new Agent({
      functionName: spec.functionName,
      memoryMB: spec.memoryMB,
      timeoutSeconds: spec.timeoutSeconds,
      concurrency: spec.concurrency,
      // As a Deployment's pod: the unqualified ARN is only the default for callers that send none.
      functionArn: functionArn(spec.functionName),
      port,
      peer: lazyPeer,
      logger: log,
      version: spec.version,
      ...(spec.logging !== undefined ? { logging: spec.logging } : {}),
      ...(this.opts.initTimeoutMs !== undefined ? { initTimeoutMs: this.opts.initTimeoutMs } : {}),
      ...(this.opts.onEvent !== undefined ? { onEvent: this.opts.onEvent(spec.functionName) } : {}),
    });
    return agent;
  }
}
