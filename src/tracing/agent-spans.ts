// The agent's spans of one invocation: `agent` from the moment the agent
// takes the request until its answer is given (waiting for a free runtime
// loop or an init included), `invocation` from the hand-over to the runtime's
// /next until its /response (or error, or timeout), and `cold start` for the
// runtime's init when this is the first invocation after it. The runtime is
// handed the invocation span's context as Lambda-Runtime-Trace-Id (X-Ray's
// form, which runtimes put in _X_AMZN_TRACE_ID) and as a W3C traceparent.
import type { InvokeRequest, InvokeResult } from '../agent/invocation.js';
import { SpanKind, startSpan, tracing, type TraceSpan } from './spans.js';
import { xrayHeaderOfTraceparent } from './trace-context.js';

/** The trace headers of the runtime's /next answer. */
export interface RuntimeTraceHeaders {
  /** Lambda-Runtime-Trace-Id. */
  xray: string | undefined;
  /** traceparent. */
  traceparent: string | undefined;
}

/**
 * With tracing off the runtime gets the caller's context unchanged: its
 * X-Amzn-Trace-Id as it came, else the one its traceparent names.
 */
export function untracedRuntimeHeaders(req: Pick<InvokeRequest, 'traceId' | 'traceparent'>): RuntimeTraceHeaders {
  return { xray: req.traceId ?? xrayHeaderOfTraceparent(req.traceparent), traceparent: req.traceparent };
}

export class InvocationTrace {
  readonly #agent: TraceSpan;
  #invocation: TraceSpan | undefined;
  #ended = false;

  private constructor(
    readonly req: InvokeRequest,
    readonly functionName: string,
  ) {
    this.#agent = startSpan('agent', 'agent', req.traceparent, {
      kind: SpanKind.SERVER,
      attributes: { 'faas.name': functionName, 'faas.invocation_id': req.requestId, 'cloud.resource_id': req.invokedFunctionArn },
    });
  }

  /** Undefined with tracing off: the agent then only passes the caller's context on (untracedRuntimeHeaders). */
  static start(req: InvokeRequest, functionName: string): InvocationTrace | undefined {
    return tracing('agent') ? new InvocationTrace(req, functionName) : undefined;
  }

  /**
   * The event goes to the runtime now: the invocation span begins. On the
   * first invocation after an init, `init` says when it began (performance.now()
   * time) and how long it took, and the cold start gets its span.
   */
  handOver(init?: { startedAt: number; durationMs: number }): RuntimeTraceHeaders {
    if (init !== undefined) {
      const start = performance.timeOrigin + init.startedAt;
      startSpan('agent', 'cold start', this.#agent.traceparent, { startTime: start, attributes: { 'faas.name': this.functionName } }).end(start + init.durationMs);
    }
    const span = startSpan('agent', 'invocation', this.#agent.traceparent, {
      attributes: { 'faas.name': this.functionName, 'faas.invocation_id': this.req.requestId, 'faas.coldstart': init !== undefined },
    });
    this.#invocation = span;
    return { xray: xrayHeaderOfTraceparent(span.traceparent), traceparent: span.traceparent };
  }

  /** The invocation ended with this result (or was refused, `result` undefined): both spans end. */
  end(result: InvokeResult | undefined, refusal?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (result !== undefined && result.outcome !== 'success') {
      const why = result.errorType ?? result.outcome;
      this.#invocation?.setAttributes({ 'faas.error': why });
      this.#invocation?.fail(why);
    }
    this.#invocation?.end();
    if (refusal !== undefined) this.#agent.fail(refusal);
    this.#agent.end();
  }
}
