import { describe, expect, it } from 'vitest';
import { WarmPoolSpecSchema, type WarmPoolSpecInput } from '../../src/api/warm-pool.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { buildDeployment, terminationGraceSeconds } from '../../src/controller/resources/deployment.js';
import { buildFunctionsNetworkPolicy } from '../../src/controller/resources/networkpolicy.js';
import {
  POOL_FIFO, POOL_RUNTIME_SCRIPT, buildPoolDeployment, buildPoolNetworkPolicy, buildPoolServiceAccount, poolObjectName, type PoolInput,
} from '../../src/controller/resources/pool.js';
import { LABEL_POOL, LABEL_POOL_RUNTIME, poolSelector } from '../../src/pools/labels.js';
import { fn, input } from './fixtures.js';
import { POOL_FIFO as AGENT_POOL_FIFO, poolRuntimeScript } from '../../src/agent/pool-paths.js';

const images = defaultImages('t');

function pool(spec: WarmPoolSpecInput, name = 'python'): PoolInput {
  return { name, namespace: 'team', uid: 'uid-pool', spec: WarmPoolSpecSchema.parse(spec) };
}

describe('warm-pool objects', () => {
  it('names and owns every object after the WarmPool', () => {
    const p = pool({ runtime: 'python' });
    const owner = { apiVersion: 'hearth.dev/v1alpha1', kind: 'WarmPool', name: 'python', uid: 'uid-pool', controller: true, blockOwnerDeletion: true };
    for (const obj of [buildPoolDeployment(p, { images, replicas: 1 }), buildPoolServiceAccount(p), buildPoolNetworkPolicy(p, 'hs')]) {
      expect(obj.metadata).toMatchObject({ name: 'pool-python', namespace: 'team', ownerReferences: [owner] });
      expect(obj.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'hearth', [LABEL_POOL_RUNTIME]: 'python' });
      // LABEL_POOL marks idle pods only: the gateway lists claimable pods by it.
      expect(obj.metadata?.labels?.[LABEL_POOL]).toBeUndefined();
    }
    expect(poolObjectName('nodejs')).toBe('pool-nodejs');
  });

  it('gives the ServiceAccount no token', () => {
    expect(buildPoolServiceAccount(pool({ runtime: 'nodejs' }, 'nodejs')).automountServiceAccountToken).toBe(false);
  });

  it("admits only gateway pods on the agent port, exactly as the functions' NetworkPolicy does", () => {
    const np = buildPoolNetworkPolicy(pool({ runtime: 'python' }), 'hs');
    expect(np.spec.podSelector).toEqual({ matchLabels: poolSelector('python') });
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress).toEqual(buildFunctionsNetworkPolicy('n', 'hs').spec.ingress);
  });

  it.each([
    { runtime: 'python', replicas: 3, image: images.python, cmd: ['python3', '/var/runtime/bootstrap.py'] },
    { runtime: 'nodejs', replicas: 0, image: images.nodejs, cmd: ['node', '/var/runtime/bootstrap.mjs'] },
  ] as const)('runs the $runtime interpreter behind the FIFO script, $replicas idle', ({ runtime, replicas, image, cmd }) => {
    const d = buildPoolDeployment(pool({ runtime, memoryMB: 256, ephemeralStorageMB: 1024 }, runtime), { images, replicas });
    expect(d.spec?.replicas).toBe(replicas);
    expect(d.spec?.selector).toEqual({ matchLabels: { [LABEL_POOL]: runtime } });
    expect(d.spec?.template.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'hearth', [LABEL_POOL]: runtime, [LABEL_POOL_RUNTIME]: runtime });
    const rt = d.spec?.template.spec?.containers.find((c) => c.name === 'runtime');
    expect(rt).toMatchObject({
      name: 'runtime',
      image,
      command: ['/bin/sh', '-c', POOL_RUNTIME_SCRIPT, 'pool-runtime', ...cmd],
      env: [
        { name: 'HEARTH_SPECIALIZE', value: 'stdin' },
        { name: 'AWS_LAMBDA_RUNTIME_API', value: '127.0.0.1:9001' },
        { name: 'LD_LIBRARY_PATH', value: '/var/task:/var/task/lib:/opt/lib' },
      ],
      workingDir: '/var/task',
      resources: { requests: { memory: '256Mi' }, limits: { memory: '256Mi' } },
      volumeMounts: [
        { name: 'task', mountPath: '/var/task', readOnly: true },
        { name: 'opt', mountPath: '/opt', readOnly: true },
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'specialize', mountPath: '/hearth/specialize' },
      ],
    });
    expect(d.spec?.template.spec?.volumes).toEqual([
      { name: 'task', emptyDir: { sizeLimit: '250Mi' } },
      { name: 'opt', emptyDir: { sizeLimit: '250Mi' } },
      { name: 'tmp', emptyDir: { sizeLimit: '1024Mi' } },
      { name: 'agent-tmp', emptyDir: { sizeLimit: '64Mi' } },
      { name: 'specialize', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    ]);
  });

  it('holds nothing of any function: no function env, no ConfigMap or Secret volume, no token', () => {
    const spec = buildPoolDeployment(pool({ runtime: 'python' }), { images, replicas: 1 }).spec?.template.spec;
    expect(spec?.automountServiceAccountToken).toBe(false);
    expect(spec?.serviceAccountName).toBe('pool-python');
    expect(spec?.volumes?.every((v) => v.emptyDir !== undefined)).toBe(true);
    for (const c of spec?.containers ?? []) expect(c.envFrom).toBeUndefined();
    expect(spec?.containers.find((c) => c.name === 'agent')?.env).toBeUndefined();
  });

  it('runs the agent in pool mode first, with a function pod\'s hooks and probes', () => {
    const spec = buildPoolDeployment(pool({ runtime: 'python' }), { images, replicas: 1 }).spec?.template.spec;
    const agent = spec?.containers[0];
    expect(spec?.initContainers).toBeUndefined();
    expect(spec?.containers.map((c) => c.name)).toEqual(['agent', 'runtime']);
    expect(agent?.args).toEqual([
      'agent', '--pool', '--listen', '0.0.0.0:9000', '--runtime-api', '127.0.0.1:9001',
      '--task-root', '/var/task', '--opt-dir', '/opt', '--specialize-fifo', POOL_FIFO,
    ]);
    expect(agent?.volumeMounts).toEqual([
      { name: 'task', mountPath: '/var/task' },
      { name: 'opt', mountPath: '/opt' },
      { name: 'specialize', mountPath: '/hearth/specialize' },
      { name: 'agent-tmp', mountPath: '/tmp' },
    ]);
    const fnAgent = buildDeployment(input(fn('f')), { images }).spec?.template.spec?.containers.find((c) => c.name === 'agent');
    const { args: _a, volumeMounts: _m, resources, ...same } = fnAgent ?? {};
    expect(agent).toMatchObject({ ...same, image: images.agent });
    expect(agent?.lifecycle?.postStart).toBeDefined();
    // It unpacks packages and layers itself: more room than a function pod's agent, for the same request.
    expect(agent?.resources).toEqual({ requests: resources?.requests, limits: { memory: '512Mi' } });
  });

  it('has a function pod\'s restricted security, drain hook, and grace for a 900 s call', () => {
    const spec = buildPoolDeployment(pool({ runtime: 'nodejs' }, 'nodejs'), { images, replicas: 1 }).spec?.template.spec;
    const fnSpec = buildDeployment(input(fn('f')), { images }).spec?.template.spec;
    expect(spec?.securityContext).toEqual(fnSpec?.securityContext);
    expect(spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(spec).toMatchObject({ shareProcessNamespace: true, enableServiceLinks: false, terminationGracePeriodSeconds: terminationGraceSeconds(900) });
    for (const name of ['agent', 'runtime']) {
      const [poolC, fnC] = [spec, fnSpec].map((s) => s?.containers.find((c) => c.name === name));
      expect(poolC?.securityContext).toEqual(fnC?.securityContext);
      expect(poolC?.lifecycle).toEqual(fnC?.lifecycle);
    }
  });

  it('meets the agent where it waits: its FIFO default and its runtime script', () => {
    expect(POOL_FIFO).toBe(AGENT_POOL_FIFO);
    expect(POOL_RUNTIME_SCRIPT).toBe(poolRuntimeScript('/hearth/specialize'));
    expect(POOL_RUNTIME_SCRIPT).toContain('/hearth/specialize/env.json');
    expect(POOL_RUNTIME_SCRIPT).toContain('/hearth/specialize/runtime.fifo');
  });
});
