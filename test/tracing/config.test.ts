// What a process reads from the OpenTelemetry environment variables, as tables;
// and that with no endpoint nothing is installed, so spans pass the caller's
// context through.
import { describe, expect, it } from 'vitest';
import { samplerSpec, tracingConfig } from '../../src/tracing/config.js';
import { installTracing, startSpan, tracing } from '../../src/tracing/spans.js';

describe('tracingConfig', () => {
  it.each([
    [{}, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'http://collector:4318/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'http://collector:4318/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp' }, 'http://collector:4318/otlp/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/custom' }, 'http://jaeger:4318/custom'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/v1/traces' }, 'http://b:4318/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'false' }, 'http://a:4318/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' }, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'otlp' }, 'http://a:4318/v1/traces'],
  ])('%j exports to %s', (env, url) => {
    expect(tracingConfig(env)?.url).toBe(url);
  });
});

describe('samplerSpec', () => {
  it.each([
    [{}, { name: 'parentbased_always_on', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: 'always_off' }, { name: 'always_off', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: 'ALWAYS_ON' }, { name: 'always_on', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, { name: 'traceidratio', ratio: 0.25 }],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }, { name: 'parentbased_traceidratio', ratio: 0 }],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, { name: 'parentbased_traceidratio', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' }, { name: 'parentbased_traceidratio', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, { name: 'parentbased_always_on', ratio: 1 }],
  ])('%j is %j', (env, want) => {
    expect(samplerSpec(env)).toEqual(want);
  });
});

describe('without an endpoint', () => {
  it('installs nothing, and a span hands back the parent it was started under', async () => {
    const handle = installTracing(['gateway', 'agent'], {});
    expect(handle.url).toBeUndefined();
    expect(tracing('gateway')).toBe(false);
    const parent = '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01';
    expect(startSpan('gateway', 'x', parent).traceparent).toBe(parent);
    expect(startSpan('agent', 'x', undefined).traceparent).toBeUndefined();
    await handle.shutdown();
  });
});
