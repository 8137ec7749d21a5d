// Controller failover leaves running functions alone. Two `hearth controller`
// processes with the chart's lease timings (15 s lease, 10 s renew deadline,
// 2 s retry period) reconcile Functions whose instance counts an autoscaler
// set through the scale subresource. The leader gets SIGTERM, as when its
// pod is deleted: it gives its Lease up, so the standby takes over within
// one retry period instead of a lease duration, and the new leader's first
// reconcile of every Function changes nothing: the Deployments keep their
// generation, pod template and replicas, no ReplicaSet is added and no pod
// is replaced. A scale change after the handover is applied by the new leader,
// and its /metrics then passes `promtool check metrics` (Prometheus's lint).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stableStringify } from '../../src/controller/resources/hash.js';
import { LABEL_FUNCTION } from '../../src/controller/resources/names.js';
import { scaleFunction } from '../../src/kube/objects.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';
import { familiesWithoutSamples } from '../../src/metrics/exposition.js';
import { checkMetrics } from '../metrics/promtool.js';
import { controllerReplicas, createNamespace, deleteNamespace, eventually, functionManifest, installCrds, pythonSpec } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
// The chart's defaults (values.yaml controller.leaderElection).
const LEASE_SECONDS = 15;
const RETRY_SECONDS = 2;

/** What a new leader must leave as it found it, per function. */
interface Snapshot {
  generation: number | undefined;
  replicas: number | undefined;
  template: string;
  replicaSets: string[];
  pods: string[];
}

if (!ctx.available) {
  describe.skip(`controller failover (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('controller failover with functions running', () => {
    const ns = `cfail-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    // Instance counts an autoscaler set: scaled out, scaled above a provisioned minimum, scaled to zero.
    const scales: Array<{ name: string; minInstances: number; replicas: number }> = [
      { name: 'wide', minInstances: 0, replicas: 3 },
      { name: 'warm', minInstances: 1, replicas: 2 },
      { name: 'idle', minInstances: 0, replicas: 0 },
    ];

    const replicas = controllerReplicas(ctx.kubeconfigPath, ns, { leaseSeconds: LEASE_SECONDS, renewDeadlineSeconds: 10, retryPeriodSeconds: RETRY_SECONDS });
    const { children, logs, exited } = replicas;
    const startReplica = replicas.start;
    const lease = () => replicas.lease(rest);
    /** A replica's metrics URL, from its log. */
    const metricsUrl = (identity: string): string | undefined => {
      for (const line of (logs.get(identity) ?? '').split('\n')) {
        try {
          const l = JSON.parse(line) as { msg?: string; url?: string };
          if (l.msg === 'metrics listening' && l.url) return l.url;
        } catch {
          // Not a log line of ours.
        }
      }
      return undefined;
    };
    const reconciles = async (identity: string): Promise<number> => {
      const url = metricsUrl(identity);
      if (url === undefined) return 0;
      const text = await (await fetch(url)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('hearth_controller_reconciles_total'))
        .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    };
    const snapshot = async (name: string): Promise<Snapshot> => {
      const d = await rest.request<V1Deployment>('GET', resourcePath(RESOURCES.Deployment, ns, name));
      const sel = { labelSelector: `${LABEL_FUNCTION}=${name}` };
      const rs = await rest.request<{ items: V1ReplicaSet[] }>('GET', '/apis/apps/v1/namespaces/' + ns + '/replicasets', { query: sel });
      const pods = await rest.request<{ items: V1Pod[] }>('GET', resourcePath(RESOURCES.Pod, ns), { query: sel });
      return {
        generation: d.metadata?.generation,
        replicas: d.spec?.replicas,
        template: stableStringify(d.spec?.template),
        replicaSets: rs.items.map((r) => r.metadata?.name ?? '').sort(),
        pods: pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.uid ?? '').sort(),
      };
    };

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
    });

    afterAll(async () => {
      replicas.kill();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('hands over within a retry period on SIGTERM, and the new leader changes no Deployment and replaces no pod', { timeout: 240_000 }, async () => {
      startReplica('replica-a');
      startReplica('replica-b');
      const first = await eventually('a leader', async () => (await lease())?.spec?.holderIdentity || undefined, 60_000);
      const other = first === 'replica-a' ? 'replica-b' : 'replica-a';

      for (const s of scales) {
        const spec = { ...pythonSpec(), scaling: { minInstances: s.minInstances, maxInstances: 5 } };
        await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(s.name, spec) });
      }
      // Scaled by the scale subresource, as the gateway's autoscaler does; idle first out, then to zero.
      for (const s of scales) await scaleFunction(rest, ns, s.name, s.replicas === 0 ? 2 : s.replicas);
      await eventually('idle scaled out', async () => ((await snapshot('idle')).pods.length === 2 ? true : undefined), 90_000);
      await scaleFunction(rest, ns, 'idle', 0);
      const before = new Map<string, Snapshot>();
      for (const s of scales) {
        before.set(
          s.name,
          await eventually(`${s.name} at ${s.replicas} running pods`, async () => {
            const snap = await snapshot(s.name);
            return snap.replicas === s.replicas && snap.pods.length === s.replicas ? snap : undefined;
          }, 90_000),
        );
      }
      expect(logs.get(other) ?? '').not.toContain('became leader');

      const leader = children.get(first);
      if (leader === undefined) throw new Error('no leader process');
      const t0 = performance.now();
      leader.kill('SIGTERM');
      await eventually(`${other} holding the lease`, async () => ((await lease())?.spec?.holderIdentity === other ? true : undefined), 30_000);
      const takeoverMs = Math.round(performance.now() - t0);
      expect(await exited(leader)).toBe(0);
      // The new leader has reconciled every Function at least once (and whatever that requeued has run).
      await eventually(`${other} reconciling every function`, async () => ((await reconciles(other)) >= scales.length ? true : undefined), 60_000);
      await new Promise((r) => setTimeout(r, 3000));
      const changed: string[] = [];
      for (const s of scales) {
        const now = await snapshot(s.name);
        const was = before.get(s.name);
        if (stableStringify(now) !== stableStringify(was)) changed.push(`${s.name}: ${stableStringify(was)} -> ${stableStringify(now)}`);
      }
      console.log(`[controller-failover] ${other} took over ${takeoverMs} ms after ${first} got SIGTERM (retry period ${RETRY_SECONDS} s, lease ${LEASE_SECONDS} s); reconciles by the new leader: ${await reconciles(other)}; Deployments changed: ${changed.length}`);
      // Released, not expired: within one retry period of the standby (plus the old leader's drain and our poll), far from the lease duration.
      expect(takeoverMs).toBeLessThan(RETRY_SECONDS * 1000 + 1500);
      expect(changed).toEqual([]);

      // The new leader acts on what the autoscaler asks next.
      await scaleFunction(rest, ns, 'wide', 1);
      await eventually('wide scaled in by the new leader', async () => ((await snapshot('wide')).replicas === 1 ? true : undefined), 30_000);

      // Its /metrics, after reconciling real Functions against the API server, passes Prometheus's lint
      // (promtool lints only families with a sample: the controller's own must have theirs).
      const text = await (await fetch(metricsUrl(other) ?? '')).text();
      const empty = familiesWithoutSamples(text);
      const mustHave = ['hearth_controller_reconciles_total', 'hearth_controller_reconcile_duration_seconds', 'hearth_controller_workqueue_latency_seconds', 'hearth_controller_functions'];
      expect(mustHave.filter((f) => empty.includes(f) || !text.includes(`# TYPE ${f} `))).toEqual([]);
      const lint = await checkMetrics(text);
      expect(lint.output, "promtool check metrics on the controller's /metrics").toBe('');
      expect(lint.code).toBe(0);
    });
  });
}
