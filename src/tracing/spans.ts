// The process's tracers and the one way Hearth's components start a span.
// A serving command installs tracing once at start (installTracing); every
// span then goes to that process's OTLP exporter. Without an endpoint nothing
// is installed and startSpan hands back the parent it was given: no SDK, no
// allocation beyond that constant-shaped handle, and the caller's trace still
// reaches the runtime. Span contexts cross process and queue boundaries as
// W3C traceparent strings, so no ambient context is needed anywhere.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  TraceIdRatioBasedSampler,
  type IdGenerator,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { tracingConfig, type SamplerSpec } from './config.js';
import { formatTraceparent, parseTraceparent } from './trace-context.js';

/** Which Hearth process a span belongs to: its service.name is hearth-<role>. */
export type TracingRole = 'gateway' | 'agent' | 'controller';

export { SpanKind };

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** When the span began, epoch ms (the queue wait began at the enqueue). */
  startTime?: number;
  /** A root span's trace id (a caller's X-Amzn-Trace-Id with a Root but no Parent): the trace stays the caller's. */
  traceId?: string;
}

export interface TraceSpan {
  /** This span as a W3C traceparent, to parent what follows; with tracing off, the parent it was started under. */
  readonly traceparent: string | undefined;
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed (status ERROR with this message). */
  fail(message: string): void;
  /** Ends it, at `endTime` (epoch ms) or now. */
  end(endTime?: number): void;
}

/** A trace id to use for the next root span, then random ones: how a root span keeps a trace id the caller chose. */
class SeededIds implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  seed: string | undefined;

  generateTraceId(): string {
    const s = this.seed;
    if (s === undefined) return this.#random.generateTraceId();
    this.seed = undefined;
    return s;
  }

  generateSpanId(): string {
    return this.#random.generateSpanId();
  }
}

interface Installed {
  tracer: Tracer;
  ids: SeededIds;
}

const installed = new Map<TracingRole, Installed>();

class RecordedSpan implements TraceSpan {
  readonly traceparent: string;

  constructor(readonly span: Span) {
    const c = span.spanContext();
    this.traceparent = formatTraceparent({ traceId: c.traceId, spanId: c.spanId, sampled: (c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED });
  }

  setAttributes(attributes: Attributes): void {
    this.span.setAttributes(attributes);
  }

  fail(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(endTime?: number): void {
    this.span.end(endTime);
  }
}

const NOOP = (): void => undefined;

/** With tracing off: the parent passes through unchanged. */
function passThrough(parent: string | undefined): TraceSpan {
  return { traceparent: parent, setAttributes: NOOP, fail: NOOP, end: NOOP };
}

/** Whether this process exports spans for `role`: callers skip building attributes when it does not. */
export function tracing(role: TracingRole): boolean {
  return installed.has(role);
}

/**
 * Starts a span of `role`'s tracer under `parent` (a traceparent; a new trace
 * without one). An invalid parent starts a new trace, as W3C Trace Context
 * says a receiver must.
 */
export function startSpan(role: TracingRole, name: string, parent: string | undefined, opts: SpanOptions = {}): TraceSpan {
  const t = installed.get(role);
  if (t === undefined) return passThrough(parent);
  const p = parseTraceparent(parent);
  const ctx = p === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: p.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true });
  // The SDK asks for a trace id synchronously inside startSpan, and only for a root span.
  if (p === undefined && opts.traceId !== undefined) t.ids.seed = opts.traceId;
  const span = t.tracer.startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, ...(opts.attributes ? { attributes: opts.attributes } : {}), ...(opts.startTime !== undefined ? { startTime: opts.startTime } : {}) }, ctx);
  t.ids.seed = undefined;
  return new RecordedSpan(span);
}

function sampler(spec: SamplerSpec): Sampler {
  switch (spec.name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(spec.ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(spec.ratio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

export interface TracingHandle {
  /** Where spans go, when tracing is on. */
  readonly url: string | undefined;
  /** Exports what is still buffered and stops; the processes call it on their way out. */
  shutdown(): Promise<void>;
}

/**
 * Installs a tracer per role (service.name hearth-<role>) exporting over
 * OTLP/HTTP when the environment names an endpoint (src/tracing/config.ts);
 * otherwise installs nothing. `hearth up` runs the gateway and the agents in
 * one process and installs both, so a trace still shows which did what.
 */
export function installTracing(roles: readonly TracingRole[], env: Readonly<Record<string, string | undefined>> = process.env, logger?: Logger): TracingHandle {
  const config = tracingConfig(env);
  if (config === undefined) return { url: undefined, shutdown: async () => undefined };
  const providers: BasicTracerProvider[] = [];
  for (const role of roles) {
    const ids = new SeededIds();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': `hearth-${role}` }),
      sampler: sampler(config.sampler),
      idGenerator: ids,
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.url }))],
    });
    providers.push(provider);
    installed.set(role, { tracer: provider.getTracer('hearth'), ids });
  }
  logger?.info({ url: config.url, sampler: config.sampler, roles }, 'exporting traces over OTLP/HTTP');
  return {
    url: config.url,
    shutdown: async () => {
      for (const role of roles) installed.delete(role);
      await Promise.all(
        providers.map((p) => p.shutdown().catch((err: unknown) => logger?.warn({ err }, 'could not export the last spans'))),
      );
    },
  };
}
