// What the OpenTelemetry environment variables ask of a Hearth process's
// tracing: where to export (OTLP/HTTP) and how to sample. Pure, so the chart's
// rendered env can be read by the very function a process reads it with.

/** The standard OpenTelemetry samplers (OTEL_TRACES_SAMPLER); `ratio` is OTEL_TRACES_SAMPLER_ARG's for the traceidratio ones. */
export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

export interface SamplerSpec {
  name: SamplerName;
  ratio: number;
}

export interface TracingConfig {
  /** The OTLP/HTTP traces URL spans are posted to. */
  url: string;
  sampler: SamplerSpec;
}

const SAMPLERS: ReadonlySet<string> = new Set<SamplerName>(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']);

/** The OpenTelemetry default: follow the caller's decision, sample every new trace. */
export const DEFAULT_SAMPLER: SamplerSpec = { name: 'parentbased_always_on', ratio: 1 };

type Env = Readonly<Record<string, string | undefined>>;

function set(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/**
 * OTEL_TRACES_SAMPLER and its ratio as the OpenTelemetry SDK spec reads them:
 * an unknown sampler is the default one; a ratio outside [0, 1] or not a
 * number is 1.
 */
export function samplerSpec(env: Env): SamplerSpec {
  const raw = set(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase();
  const name = raw !== undefined && SAMPLERS.has(raw) ? (raw as SamplerName) : DEFAULT_SAMPLER.name;
  const arg = Number(set(env, 'OTEL_TRACES_SAMPLER_ARG'));
  const ratio = set(env, 'OTEL_TRACES_SAMPLER_ARG') !== undefined && Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  return { name, ratio };
}

/**
 * The traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given (the spec's
 * signal-specific endpoint is the full URL), else OTEL_EXPORTER_OTLP_ENDPOINT
 * with /v1/traces appended. Undefined (no tracing, a no-op on every path)
 * without either, with OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none.
 */
export function tracingConfig(env: Env): TracingConfig | undefined {
  if (set(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  if (set(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase() === 'none') return undefined;
  const traces = set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const url = traces ?? (base !== undefined ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (url === undefined) return undefined;
  return { url, sampler: samplerSpec(env) };
}

/** The variables that configure tracing, handed on by the controller to the agents of the pods it makes. */
export const TRACING_ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG', 'OTEL_SDK_DISABLED'] as const;

/** Those of TRACING_ENV that are set, in that order; none when they configure no tracing. */
export function tracingEnv(env: Env): Array<{ name: string; value: string }> {
  if (tracingConfig(env) === undefined) return [];
  return TRACING_ENV.flatMap((name) => {
    const value = set(env, name);
    return value === undefined ? [] : [{ name, value }];
  });
}
