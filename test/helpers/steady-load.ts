// Steady load for the churn suites and the churn benchmark: N clients, each
// with one kept-alive connection of its own, call an HTTP endpoint back to
// back and never retry, as a plain caller would. Every answer is checked and
// counted under the phase that was current when the call was sent, so a
// suite can say which change cost which failures. Bounded: it runs until
// stop(), and each call has a timeout.
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { summarize } from '../../bench/report.js';

export interface SteadyLoadOptions {
  /** Origin, e.g. http://hearth-gateway.hearth.svc.cluster.local or http://127.0.0.1:8080. */
  origin: string;
  /** Path of each call, e.g. /2015-03-31/functions/NAME/invocations. */
  path: string;
  clients: number;
  headers?: Record<string, string>;
  /** The body of the client's n-th call. */
  body?: (client: number, n: number) => string;
  /** Why an answer is a failure, or undefined when it is a good one (headers: e.g. which version ran). */
  check: (status: number, body: string, headers: Record<string, string | string[] | undefined>) => string | undefined;
  /** Per call (default 60 s): a call that hangs is a failure, not a stuck suite. */
  callTimeoutMs?: number;
  /** Pause between a client's calls (default 0: back to back). */
  pauseMs?: number;
}

export interface PhaseCounts {
  phase: string;
  calls: number;
  ok: number;
  failed: number;
  /** Failure reason → count (a status and error type, or a socket error code). */
  failures: Record<string, number>;
  durationMs: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadReport {
  phases: PhaseCounts[];
  total: PhaseCounts;
  /** Up to 20 failures with their phase and detail, to say why. */
  examples: string[];
}

interface Tally {
  phase: string;
  startedAt: number;
  endedAt?: number;
  latencies: number[];
  failures: Map<string, number>;
}

/** "502 ServiceException" from a Lambda error answer, else the status alone. */
export function failureReason(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { Type?: unknown; errorType?: unknown; __type?: unknown };
    const type = parsed.Type ?? parsed.errorType ?? parsed.__type;
    if (typeof type === 'string') return `${status} ${type}`;
  } catch {
    // Not JSON: the status says enough.
  }
  return String(status);
}

export class SteadyLoad {
  readonly #o: SteadyLoadOptions;
  readonly #tallies: Tally[] = [];
  readonly #examples: string[] = [];
  #stopping = false;
  #running: Promise<void>[] = [];

  constructor(opts: SteadyLoadOptions) {
    this.#o = opts;
  }

  /** Starts the clients under a first phase. */
  start(phase = 'steady'): void {
    this.phase(phase);
    this.#running = Array.from({ length: this.#o.clients }, (_, c) => this.#client(c));
  }

  /** Counts the calls sent from now on under `name`. */
  phase(name: string): void {
    const now = performance.now();
    const current = this.#tallies.at(-1);
    if (current) current.endedAt = now;
    this.#tallies.push({ phase: name, startedAt: now, latencies: [], failures: new Map() });
  }

  /** Counts so far, without stopping. */
  report(): LoadReport {
    const now = performance.now();
    const phases = this.#tallies.map((t) => counts(t.phase, t.latencies, t.failures, (t.endedAt ?? now) - t.startedAt));
    const all = new Map<string, number>();
    for (const t of this.#tallies) for (const [k, v] of t.failures) all.set(k, (all.get(k) ?? 0) + v);
    const first = this.#tallies[0]?.startedAt ?? now;
    const total = counts('total', this.#tallies.flatMap((t) => t.latencies), all, now - first);
    return { phases, total, examples: [...this.#examples] };
  }

  /** Stops the clients after their current call and reports. */
  async stop(): Promise<LoadReport> {
    this.#stopping = true;
    const current = this.#tallies.at(-1);
    await Promise.all(this.#running);
    if (current) current.endedAt ??= performance.now();
    return this.report();
  }

  async #client(c: number): Promise<void> {
    const o = this.#o;
    const client = new Client(o.origin, { pipelining: 1, keepAliveTimeout: 60_000 });
    try {
      for (let n = 0; !this.#stopping; n++) {
        const tally = this.#tallies.at(-1) as Tally;
        const t0 = performance.now();
        let reason: string | undefined;
        let detail = '';
        try {
          const res = await client.request({
            method: 'POST',
            path: o.path,
            headers: { 'content-type': 'application/json', ...o.headers },
            body: o.body?.(c, n) ?? '{}',
            headersTimeout: o.callTimeoutMs ?? 60_000,
            bodyTimeout: o.callTimeoutMs ?? 60_000,
          });
          const text = await res.body.text();
          reason = o.check(res.statusCode, text, res.headers);
          detail = `${res.statusCode} ${text.slice(0, 300)}`;
        } catch (err) {
          const e = err as { code?: string; message?: string };
          reason = e.code ?? e.message ?? String(err);
          detail = e.message ?? String(err);
        }
        if (reason === undefined) tally.latencies.push(performance.now() - t0);
        else {
          tally.failures.set(reason, (tally.failures.get(reason) ?? 0) + 1);
          if (this.#examples.length < 20) this.#examples.push(`[${tally.phase}] client ${c} call ${n}: ${reason}: ${detail}`);
        }
        if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  }
}

function counts(phase: string, latencies: number[], failures: Map<string, number>, durationMs: number): PhaseCounts {
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  const calls = latencies.length + failed;
  const s = latencies.length > 0 ? summarize(phase, latencies) : { p50Ms: Number.NaN, p99Ms: Number.NaN };
  return {
    phase,
    calls,
    ok: latencies.length,
    failed,
    failures: Object.fromEntries(failures),
    durationMs: Math.round(durationMs),
    callsPerSecond: durationMs > 0 ? Math.round((calls / durationMs) * 1000) : 0,
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
  };
}

/** One line per phase, for the suites' output and the closing notes. */
export function formatReport(r: LoadReport): string {
  const line = (p: PhaseCounts): string =>
    `${p.phase.padEnd(28)} calls ${String(p.calls).padStart(6)}  ok ${String(p.ok).padStart(6)}  failed ${String(p.failed).padStart(4)}  ${String(p.callsPerSecond).padStart(5)}/s  p50 ${p.p50Ms} ms  p99 ${p.p99Ms} ms${p.failed > 0 ? `  ${JSON.stringify(p.failures)}` : ''}`;
  return [...r.phases.map(line), line(r.total), ...r.examples].join('\n');
}

/**
 * Event invocations sent one after another beside the steady load, never
 * retried; each 202's request id is kept so a suite can check its record.
 */
export class EventSender {
  readonly accepted: string[] = [];
  readonly refused: string[] = [];
  #stop = false;
  #done: Promise<void> = Promise.resolve();

  /** `send(n)` sends the n-th event (an Event invocation) and returns the answer. */
  constructor(
    private readonly send: (n: number) => Promise<Response>,
    private readonly pauseMs: number,
  ) {}

  start(): void {
    this.#done = (async () => {
      for (let n = 0; !this.#stop; n++) {
        try {
          const res = await this.send(n);
          const body = await res.text();
          if (res.status === 202) this.accepted.push(res.headers.get('x-amzn-requestid') ?? '');
          else this.refused.push(`${res.status} ${body.slice(0, 200)}`);
        } catch (err) {
          this.refused.push(String(err));
        }
        await new Promise((r) => setTimeout(r, this.pauseMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}
