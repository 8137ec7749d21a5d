// No call lost when things change: steady load through the gateway's Service
// (kept-alive clients that never retry) while, in phases, the function's code
// and env change, load scales it 1 → N → 1, it is scaled to zero, each
// gateway pod is deleted, `helm upgrade` restarts the gateways and the
// controller's leader pod is deleted. Every sync answer must be a 200 with
// the body of the old or the new code, and every accepted async event must
// succeed. Runs after hearth.test.ts (vitest.e2e.config.ts orders the files)
// on the release it installed, or installs it when run alone.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { FunctionSpecSchema } from '../../src/api/function.js';
import { ANNOTATION_SPEC_HASH, LABEL_CLAIMED } from '../../src/pools/labels.js';
import { poolFor } from '../../src/pools/eligibility.js';
import { instanceSpecHash } from '../../src/pools/specialization.js';
import { EventSender, failureReason, formatReport, SteadyLoad, type LoadReport } from '../helpers/steady-load.js';
import { GATEWAY, NS, api, apiKey, ensureRelease, gatewayFetch, gatewayMetricSum, invoke, isReady, kubectl, pods, tool, until, type PodView } from './cluster.js';
import { applyPython } from './functions.js';

const FN = 'churn';
const INVOKE = `/2015-03-31/functions/${FN}/invocations`;
/** Calls per second the steady load must reach (the floor). */
const MIN_RATE = 100;

const handler = (version: string): string => `import os, time

def lambda_handler(event, context):
    time.sleep(float(event.get('sleep', 0)))
    return {'version': '${version}', 'greeting': os.environ.get('GREETING')}
`;

/**
 * One instance takes the 8 steady clients (concurrency 10, aimed at fully),
 * so that extra load is what scales it out; the autoscaler may take it to
 * zero (minInstances 0) as soon as it is idle.
 */
function applyChurn(version: string, greeting: string): Promise<void> {
  return applyPython(FN, handler(version), {
    timeoutSeconds: 30,
    concurrency: 10,
    env: [{ name: 'GREETING', value: greeting }],
    scaling: { minInstances: 0, maxInstances: 3, targetConcurrency: 10, targetUtilizationPercent: 100, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 0 },
  });
}

interface DeploymentView {
  metadata: { generation?: number };
  spec: { replicas?: number };
  status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number };
}

const livePods = async (selector: string): Promise<PodView[]> => (await pods(NS, selector)).filter((p) => p.metadata.deletionTimestamp === undefined);

interface ClaimedPodView extends PodView {
  metadata: PodView['metadata'] & { annotations?: Record<string, string> };
}

/**
 * The function's pods claimed from a warm pool (pools are on, the chart's
 * default) that run its current spec and are not going: they count as
 * instances beside the Deployment's, which the controller sizes to what
 * they do not cover.
 */
async function freshClaimedPods(): Promise<ClaimedPodView[]> {
  const fn = await api().get<{ spec: unknown }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`);
  const hash = instanceSpecHash(FunctionSpecSchema.parse(fn.spec));
  return ((await pods(NS, `hearth.dev/function=${FN},${LABEL_CLAIMED}=true`)) as ClaimedPodView[])
    .filter((p) => p.metadata.deletionTimestamp === undefined && p.metadata.annotations?.[ANNOTATION_SPEC_HASH] === hash);
}

/** The Deployment has rolled out its current template, every claimed pod runs the current spec and no old pod is left. */
async function rolledOut(): Promise<boolean> {
  const d = await api().get<DeploymentView>(`/apis/apps/v1/namespaces/${NS}/deployments/${FN}`);
  const want = d.spec.replicas ?? 0;
  const all = await pods(NS, `hearth.dev/function=${FN}`);
  const claimed = await freshClaimedPods();
  return (
    (d.status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    (d.status.updatedReplicas ?? 0) === want &&
    (d.status.readyReplicas ?? 0) === want &&
    claimed.every(isReady) &&
    all.length === want + claimed.length
  );
}

/** Waits for a change just applied to roll out: the Deployment takes it up, then no old pod is left. */
async function rollout(what: string): Promise<void> {
  await sleep(2_000);
  await until(`${what} rolled out`, async () => ((await rolledOut()) ? true : undefined), 180_000, 500);
}

/** Instances the function has: the Deployment's replicas and its fresh claimed pods. */
async function instances(): Promise<number> {
  const d = await api().get<DeploymentView>(`/apis/apps/v1/namespaces/${NS}/deployments/${FN}`);
  return (d.spec.replicas ?? 0) + (await freshClaimedPods()).length;
}

describe.runIf(inject('e2e') !== undefined).sequential('no call lost while things change (process-node cluster)', () => {
  // Installs the chart's release when this file runs alone.
  beforeAll(ensureRelease, 300_000);

  it('8 kept-alive clients, ≥ 100 calls/s, through code, env, scale, scale-to-zero, gateway and controller changes: 0 failed calls, every accepted event succeeds', async () => {
    const versions = new Set(['v1']);
    const greetings = new Set(['a']);
    await applyChurn('v1', 'a');
    // Pools are on (the chart's default) and this function is one they serve, so scaling from zero may take the pool path.
    const fnSpec = FunctionSpecSchema.parse((await api().get<{ spec: unknown }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`)).spec);
    const warmPools = await api().get<{ items: { metadata: { name: string }; spec: { runtime: 'python' | 'nodejs'; memoryMB: number; ephemeralStorageMB: number } }[] }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/warmpools`);
    const match = poolFor(fnSpec, warmPools.items.map((w) => ({ name: w.metadata.name, ...w.spec })));
    expect(match, 'the churn function can be served from a warm pool').toMatchObject({ ok: true });
    // minInstances 0: the first call starts the first instance.
    await until(`${FN} answering`, async () => ((await invoke(FN, {})).status === 200 ? true : undefined), 180_000, 1_000);

    const check = (status: number, body: string): string | undefined => {
      if (status !== 200) return failureReason(status, body);
      try {
        const v = JSON.parse(body) as { version?: string; greeting?: string; errorType?: string };
        if (v.errorType !== undefined) return `function error ${v.errorType}`;
        if (!versions.has(v.version ?? '')) return `unknown version ${String(v.version)}`;
        if (!greetings.has(v.greeting ?? '')) return `unknown greeting ${String(v.greeting)}`;
        return undefined;
      } catch {
        return 'not JSON';
      }
    };
    const headers = { authorization: `Bearer ${await apiKey()}` };
    const load = new SteadyLoad({ origin: GATEWAY, path: INVOKE, clients: 8, headers, check, pauseMs: 20, body: (c, n) => JSON.stringify({ c, n }) });
    const events = new EventSender((n) => gatewayFetch(INVOKE, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: JSON.stringify({ event: n }), signal: AbortSignal.timeout(30_000) }), 250);
    const phaseEnds: string[] = [];
    const phase = (name: string): void => {
      load.phase(name);
      phaseEnds.push(`${new Date().toISOString()} ${name}`);
      console.log(`[churn] phase: ${name}`);
    };
    load.start('steady');
    events.start();
    let report: LoadReport | undefined;
    let backFromZero = { poolStarts: 0, claimed: [] as string[] };
    try {
      await sleep(8_000);

      phase('code change');
      versions.add('v2');
      await applyChurn('v2', 'a');
      await rollout('the code change');
      versions.delete('v1');
      await sleep(3_000);

      phase('env change');
      greetings.add('b');
      await applyChurn('v2', 'b');
      await rollout('the env change');
      greetings.delete('a');
      await sleep(3_000);

      phase('scale 1 → N → 1');
      // Slow calls on top of the steady load need more instances; they must not fail either.
      const burst = new SteadyLoad({ origin: GATEWAY, path: INVOKE, clients: 16, headers, check, body: () => JSON.stringify({ sleep: 1 }) });
      burst.start('burst');
      let peak = 1;
      try {
        await until('scaled out', async () => {
          peak = Math.max(peak, (await livePods(`hearth.dev/function=${FN}`)).filter(isReady).length);
          return peak >= 2 ? true : undefined;
        }, 120_000, 500);
        await sleep(3_000);
      } finally {
        const b = await burst.stop();
        console.log(`[churn] burst on top:\n${formatReport(b)}`);
        expect(b.total.failed, 'burst calls failed').toBe(0);
      }
      await until('back to one instance', async () => ((await instances()) === 1 && (await rolledOut()) ? true : undefined), 180_000, 1_000);
      console.log(`[churn] peak ready instances: ${peak}`);

      phase('scale to zero and back');
      const before = (await livePods(`hearth.dev/function=${FN}`)).map((p) => p.metadata.name);
      // The gateways stay the same through this phase, so their counters' difference is what it started.
      const poolStartsBefore = await gatewayMetricSum('hearth_instance_starts_total', { function: FN, path: 'pool' });
      // The last instance stops while calls keep coming: they must wait for a new one.
      await kubectl('scale', '--namespace', NS, `functions.hearth.dev/${FN}`, '--replicas=0');
      const claimedSeen = new Set<string>();
      await until('a new instance serving', async () => {
        const now = await livePods(`hearth.dev/function=${FN}`);
        for (const p of now) if (!before.includes(p.metadata.name) && p.metadata.labels?.[LABEL_CLAIMED] === 'true') claimedSeen.add(p.metadata.name);
        return now.some((p) => isReady(p) && !before.includes(p.metadata.name)) && (await pods(NS, `hearth.dev/function=${FN}`)).every((p) => !before.includes(p.metadata.name)) ? true : undefined;
      }, 180_000, 500);
      await sleep(3_000);
      const poolStarts = (await gatewayMetricSum('hearth_instance_starts_total', { function: FN, path: 'pool' })) - poolStartsBefore;
      backFromZero = { poolStarts, claimed: [...claimedSeen] };
      console.log(`[churn] back from zero: ${poolStarts} pool starts, claimed pods seen: ${backFromZero.claimed.join(', ') || 'none'}`);

      const gatewaySelector = 'app.kubernetes.io/component=gateway';
      for (const [i, g] of (await livePods(gatewaySelector)).entries()) {
        phase(`gateway pod ${i + 1} deleted`);
        await kubectl('delete', 'pod', '--namespace', NS, g.metadata.name, '--wait=false');
        await until('the gateway pod replaced', async () => {
          const all = await pods(NS, gatewaySelector);
          return !all.some((p) => p.metadata.uid === g.metadata.uid) && all.length >= 2 && all.every(isReady) ? true : undefined;
        }, 180_000, 500);
        await sleep(3_000);
      }

      phase('helm upgrade');
      await tool('helm', ['upgrade', 'hearth', 'charts/hearth', '--namespace', NS, '--reuse-values', '--set-string', `gateway.podAnnotations.churn=${Date.now()}`, '--wait', '--timeout', '4m']);
      await until('the upgraded gateways all Ready, old ones gone', async () => {
        const all = await pods(NS, gatewaySelector);
        return all.length >= 2 && all.every((p) => isReady(p) && p.metadata.deletionTimestamp === undefined) ? true : undefined;
      }, 180_000, 500);
      await sleep(3_000);

      phase('controller leader deleted');
      const lease = await api().get<{ spec: { holderIdentity?: string | null } }>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/hearth-controller`);
      const leader = lease.spec.holderIdentity ?? '';
      expect(leader).not.toBe('');
      await kubectl('delete', 'pod', '--namespace', NS, leader, '--wait=false');
      // The new leader must reconcile: a code change made while the leader goes rolls out under its successor.
      versions.add('v3');
      await applyChurn('v3', 'b');
      await until('a new controller leader', async () => {
        const l = await api().get<{ spec: { holderIdentity?: string | null } }>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/hearth-controller`);
        return l.spec.holderIdentity && l.spec.holderIdentity !== leader ? true : undefined;
      }, 120_000, 500);
      await rollout('the change under the new leader');
      await sleep(3_000);
    } finally {
      await events.stop();
      report = await load.stop();
      console.log(`[churn] per phase:\n${formatReport(report)}\n${phaseEnds.join('\n')}`);
    }

    expect(report.total.durationMs).toBeGreaterThanOrEqual(60_000);
    expect(report.total.callsPerSecond).toBeGreaterThanOrEqual(MIN_RATE);
    expect(report.phases.map((p) => [p.phase, p.failed]).filter(([, f]) => f !== 0), report.examples.join('\n')).toEqual([]);
    // With pools on, the way back from zero was a claimed pool pod (the gateway counted it, or the pod was seen).
    expect(backFromZero.poolStarts > 0 || backFromZero.claimed.length > 0, `scaling back from zero took the pool path: ${JSON.stringify(backFromZero)}`).toBe(true);

    console.log(`[churn] async events: ${events.accepted.length} accepted, ${events.refused.length} refused`);
    expect(events.refused).toEqual([]);
    expect(events.accepted.length).toBeGreaterThan(50);
    const statuses = await until('every accepted event succeeded', async () => {
      const all = await Promise.all(events.accepted.map(async (id) => {
        const r = await gatewayFetch(`/invocations/${id}`).catch(() => undefined);
        return r?.status === 200 ? ((await r.json()) as { status: string }).status : 'unknown';
      }));
      return all.every((s) => s === 'succeeded') ? all : undefined;
    }, 180_000, 2_000);
    expect(statuses).toHaveLength(events.accepted.length);
  }, 1_500_000);
});
