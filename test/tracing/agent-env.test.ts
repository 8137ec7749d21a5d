// The controller hands its tracing variables on to the agents of the pods it
// makes (function and warm-pool pods), so a chart's tracing.otlpEndpoint
// reaches every agent; without them the pod templates are as before.
import { describe, expect, it } from 'vitest';
import { WarmPoolSpecSchema } from '../../src/api/warm-pool.js';
import { AGENT_CONTAINER, buildDeployment } from '../../src/controller/resources/deployment.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { buildPoolDeployment } from '../../src/controller/resources/pool.js';
import { tracingConfig, tracingEnv } from '../../src/tracing/config.js';
import { fn, input } from '../controller/fixtures.js';

const images = defaultImages('t');
const CONTROLLER_ENV = {
  PATH: '/usr/bin',
  REDIS_URL: 'redis://r:6379',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger-collector.observability:4318',
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.5',
};

function agentEnvOf(containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> | undefined): Record<string, string> | undefined {
  const agent = containers?.find((c) => c.name === AGENT_CONTAINER);
  return agent?.env === undefined ? undefined : Object.fromEntries(agent.env.map((e) => [e.name, e.value ?? '']));
}

describe('tracingEnv', () => {
  it.each([
    [{}, []],
    [{ OTEL_TRACES_SAMPLER: 'always_on' }, []],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, []],
    [
      CONTROLLER_ENV,
      [
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://jaeger-collector.observability:4318' },
        { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.5' },
      ],
    ],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/t' }, [{ name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', value: 'http://c:4318/t' }]],
  ])('hands on %j as %j', (env, want) => {
    expect(tracingEnv(env)).toEqual(want);
  });
});

describe("the agents of the controller's pods", () => {
  it('read the tracing the controller was given', () => {
    const agentEnv = tracingEnv(CONTROLLER_ENV);
    const fnPod = buildDeployment(input(fn('a')), { images, agentEnv }).spec?.template.spec;
    const poolPod = buildPoolDeployment({ name: 'python', namespace: 'team', uid: 'u', spec: WarmPoolSpecSchema.parse({ runtime: 'python' }) }, { images, replicas: 1, agentEnv }).spec?.template.spec;
    for (const pod of [fnPod, poolPod]) {
      const env = agentEnvOf(pod?.containers);
      expect(env).toBeDefined();
      // What `hearth agent` reads from it: the controller's endpoint and sampler.
      expect(tracingConfig(env ?? {})).toEqual(tracingConfig(CONTROLLER_ENV));
      expect(tracingConfig(env ?? {})?.url).toBe('http://jaeger-collector.observability:4318/v1/traces');
      // Nothing else of the controller's environment leaks into the pods.
      expect(env).not.toHaveProperty('REDIS_URL');
    }
  });

  it('have no env at all without tracing, so pod templates do not change', () => {
    const agentEnv = tracingEnv({ PATH: '/usr/bin' });
    expect(agentEnvOf(buildDeployment(input(fn('a')), { images, agentEnv }).spec?.template.spec?.containers)).toBeUndefined();
    expect(buildDeployment(input(fn('a')), { images, agentEnv })).toEqual(buildDeployment(input(fn('a')), { images }));
  });
});
