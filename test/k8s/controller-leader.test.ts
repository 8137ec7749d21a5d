import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';
import { controllerReplicas, createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined, installCrds, pythonSpec, readyCondition, type FunctionObj } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const LEASE_SECONDS = 4;

if (!ctx.available) {
  describe.skip(`controller leader election (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('two controller replicas elect one leader', () => {
    const ns = `lead-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const replicas = controllerReplicas(ctx.kubeconfigPath, ns, { leaseSeconds: LEASE_SECONDS, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 });
    const { children, logs, exited } = replicas;
    const startReplica = replicas.start;
    const lease = () => replicas.lease(rest);

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
    });

    afterAll(async () => {
      replicas.kill();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('one leads and reconciles; killed, the other takes over within the lease duration', async () => {
      startReplica('replica-a');
      startReplica('replica-b');
      const first = await eventually('a leader', async () => {
        const l = await lease();
        return l?.spec?.holderIdentity ? l.spec.holderIdentity : undefined;
      }, 60_000);
      const other = first === 'replica-a' ? 'replica-b' : 'replica-a';

      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('one', pythonSpec()) });
      await eventually('one Ready under the first leader', async () => {
        const f = await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'one');
        return readyCondition(f)?.status === 'True' ? true : undefined;
      });
      expect(logs.get(other) ?? '').not.toContain('became leader');

      const leader = children.get(first);
      const killedAt = Date.now();
      leader?.kill('SIGKILL');
      await eventually(`${other} holding the lease`, async () => ((await lease())?.spec?.holderIdentity === other ? true : undefined), 30_000);
      const takeoverMs = Date.now() - killedAt;
      console.log(`[leader] ${other} took over ${takeoverMs} ms after ${first} was killed (lease ${LEASE_SECONDS} s)`);
      // Within the lease duration plus one retry period of the standby and one poll of ours.
      expect(takeoverMs).toBeLessThan(LEASE_SECONDS * 1000 + 1500);
      expect((await lease())?.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);

      // The new leader reconciles.
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('two', pythonSpec()) });
      await eventually('two Ready under the new leader', async () => {
        const f = await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'two');
        return readyCondition(f)?.status === 'True' ? true : undefined;
      });
    });

    it('gives the lease up on SIGTERM and exits cleanly', async () => {
      const leaderId = (await lease())?.spec?.holderIdentity;
      expect(leaderId).toBeTruthy();
      const leader = children.get(leaderId ?? '');
      if (leader === undefined) throw new Error('no leader process');
      leader.kill('SIGTERM');
      expect(await exited(leader)).toBe(0);
      expect((await lease())?.spec?.holderIdentity ?? '').toBe('');
    });
  });
}
