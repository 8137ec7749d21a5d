// The dispatcher's side of the HTTP invoke endpoint: the same invoke(req)
// as an in-process Agent, over kept-alive connections to one agent. A call
// that provably never reached the runtime fails with a NotDeliveredError,
// as an in-process Agent's does; any other failure may have run.
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import { LIMITS } from '../api/function.js';
import type { InvokeRequest, InvokeResult } from './invocation.js';
import { decodeStreamEnd, INVOKE_PATH, requestToHeaders, resultFromHeaders, STREAM_END_TRAILER, STREAM_MODE_HEADER, type HeaderBag } from './invoke-headers.js';
import type { StreamEnd } from './invocation.js';
import { DEFAULT_STREAM_CONTENT_TYPE } from '../streaming/response-stream.js';
import { NotDeliveredError, notDeliveredReason } from './delivery.js';
import { truncatedError } from './lambda-errors.js';

export interface AgentClientOptions {
  /** Connections kept open to the agent (default 8; 1 for strictly sequential callers). */
  connections?: number;
  /** Added to the longest the agent may take before the client gives up on it. */
  deadlineSlackMs?: number;
  /** The runtime's init timeout: a call may wait in the agent for a (re)start (default Lambda's 10 s). */
  initTimeoutMs?: number;
}

/**
 * How long the client waits for the agent's answer. The agent always answers
 * (with Sandbox.Timedout at worst), but the timeout starts only when the
 * runtime takes the event: before that a call may wait for an init or
 * restart, and for the calls ahead of it in the instance's other `slots` when
 * the runtime takes fewer at once than it has slots (a one-loop `provided`
 * runtime). The wait only guards against an agent that went away.
 */
export function answerWaitMs(timeoutMs: number, slots: number, initTimeoutMs: number, slackMs: number): number {
  return initTimeoutMs + Math.max(1, slots) * timeoutMs + slackMs;
}

/** The agent answered with something other than an invocation result (e.g. 413 for an oversized event). */
export class AgentHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`agent answered ${statusCode}: ${body.slice(0, 200)}`);
    this.name = 'AgentHttpError';
  }
}

export class AgentClient {
  private readonly pool: Pool;
  private readonly slackMs: number;
  private readonly initTimeoutMs: number;

  constructor(
    readonly url: string,
    opts: AgentClientOptions = {},
  ) {
    this.pool = new Pool(url, { connections: opts.connections ?? 8, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, pipelining: 1 });
    this.slackMs = opts.deadlineSlackMs ?? 5000;
    this.initTimeoutMs = opts.initTimeoutMs ?? LIMITS.initTimeoutSeconds * 1000;
  }

  /** `slots`: the instance's concurrency, i.e. how many calls may be in the agent at once. */
  async invoke(req: InvokeRequest, slots = 1): Promise<InvokeResult> {
    const waitMs = answerWaitMs(req.timeoutMs, slots, this.initTimeoutMs, this.slackMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        path: INVOKE_PATH,
        method: 'POST',
        headers: { ...requestToHeaders(req), 'content-type': 'application/json' },
        body: req.payload,
        headersTimeout: waitMs,
        bodyTimeout: waitMs,
      });
    } catch (err) {
      const reason = notDeliveredReason({ kind: 'error', error: err });
      if (reason !== undefined) throw new NotDeliveredError(reason, `${this.url}: ${(err as Error).message || (err as { code?: string }).code || reason}`, { cause: err });
      throw err;
    }
    if (res.statusCode === 200 && headerOf(res.headers, STREAM_MODE_HEADER) === 'streaming') return streamedResult(res, req.requestId);
    const payload = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) {
      const reason = notDeliveredReason({ kind: 'answer', statusCode: res.statusCode, headers: res.headers });
      if (reason !== undefined) throw new NotDeliveredError(reason, `${this.url}: the instance is draining`);
      throw new AgentHttpError(res.statusCode, payload.toString('utf8'));
    }
    return resultFromHeaders(res.headers, payload);
  }

  async ready(): Promise<boolean> {
    try {
      const res = await this.pool.request({ path: '/readyz', method: 'GET', headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function headerOf(h: HeaderBag, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A streamed answer: the result at once, its body the agent's chunks as they
 * come (undici holds the socket back while the reader is behind), its end
 * from the agent's trailer. A connection cut before that trailer ends the
 * stream with an error: the caller must not take a cut stream for a whole one.
 */
function streamedResult(res: Dispatcher.ResponseData, requestId: string): InvokeResult {
  const result = resultFromHeaders(res.headers, Buffer.alloc(0));
  const started = performance.now();
  const ended = new Promise<StreamEnd>((resolve) => {
    const cutError = truncatedError(requestId, 'the connection to the instance ended before the response stream was complete');
    // Bytes are not counted here: a 'data' listener would take the body out of its reader's hands.
    const cut = (): StreamEnd => ({
        bytes: 0,
        durationMs: result.durationMs + (performance.now() - started),
        error: { errorType: cutError.errorType, payload: Buffer.from(JSON.stringify(cutError)) },
      });
    res.body.once('end', () => resolve(decodeStreamEnd(headerOf(res.trailers, STREAM_END_TRAILER)) ?? cut()));
    res.body.once('close', () => resolve(cut()));
  });
  result.stream = { contentType: headerOf(res.headers, 'content-type') ?? DEFAULT_STREAM_CONTENT_TYPE, body: res.body, ended };
  return result;
}
