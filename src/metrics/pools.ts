// Metrics of warm pools and of how instances start. The gateway counts the
// starts it causes by path (a claimed pool pod, or a new pod from the unit's
// Deployment), the claims it attempts per runtime and how long a claimed pod
// takes to be specialised; the controller reports each pool's size.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** pool: a claimed warm-pool pod; pod: a new pod of the unit's Deployment (no pool, pool empty, or the function cannot use one). */
export type StartPath = 'pool' | 'pod';
/** claimed: the pod is the function's; conflict: another gateway changed it first; empty: no ready pod; failed: the claim or the specialisation failed. */
export type ClaimOutcome = 'claimed' | 'conflict' | 'empty' | 'failed';

export interface GatewayPoolMetrics {
  instanceStarts: Counter<'function' | 'version' | 'path'>;
  claims: Counter<'runtime' | 'outcome'>;
  specializationSeconds: Histogram<'runtime'>;
}

const SPECIALIZATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5];

export function createGatewayPoolMetrics(registry: Registry): GatewayPoolMetrics {
  const registers = [registry];
  return {
    instanceStarts: new Counter({
      name: 'hearth_instance_starts_total',
      help: 'Instances this gateway started for a cold start, by path: pool (a claimed warm-pool pod) or pod (a new pod of the function\'s Deployment).',
      labelNames: ['function', 'version', 'path'] as const,
      registers,
    }),
    claims: new Counter({
      name: 'hearth_pool_claims_total',
      help: 'Warm-pool claims this gateway attempted, by runtime and outcome (claimed, conflict, empty, failed).',
      labelNames: ['runtime', 'outcome'] as const,
      registers,
    }),
    specializationSeconds: new Histogram({
      name: 'hearth_pool_specialization_seconds',
      help: 'From the claim of a pool pod until its agent has the function\'s code and its runtime has been told to initialise.',
      labelNames: ['runtime'] as const,
      buckets: SPECIALIZATION_BUCKETS,
      registers,
    }),
  };
}

export interface ControllerPoolMetrics {
  /** Idle pods per pool and state (ready: claimable; starting: not yet). */
  pods: Gauge<'pool' | 'runtime' | 'state'>;
  desiredSize: Gauge<'pool' | 'runtime'>;
  /** Claims the controller observed, per pool. */
  claims: Counter<'pool' | 'runtime'>;
  /** Drops a deleted pool's series. */
  forget(pool: string, runtime: string): void;
}

export function createControllerPoolMetrics(registry: Registry): ControllerPoolMetrics {
  const registers = [registry];
  const pods = new Gauge({ name: 'hearth_pool_pods', help: 'Idle pods of each warm pool, by state (ready, starting).', labelNames: ['pool', 'runtime', 'state'] as const, registers });
  const desiredSize = new Gauge({ name: 'hearth_pool_desired_size', help: 'Idle pods each warm pool aims for, from its recent claims.', labelNames: ['pool', 'runtime'] as const, registers });
  const claims = new Counter({ name: 'hearth_pool_claimed_pods_total', help: 'Pods claimed from each warm pool, as the controller observed them.', labelNames: ['pool', 'runtime'] as const, registers });
  return {
    pods,
    desiredSize,
    claims,
    forget(pool, runtime) {
      for (const state of ['ready', 'starting']) pods.remove({ pool, runtime, state });
      desiredSize.remove({ pool, runtime });
      claims.remove({ pool, runtime });
    },
  };
}
