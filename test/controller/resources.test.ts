import { describe, expect, it } from 'vitest';
import type { V1Container } from '@kubernetes/client-node';
import { buildCodeConfigMap, codeHash } from '../../src/controller/resources/configmap.js';
import { AGENT_CONTAINER, buildDeployment, RUNTIME_CONTAINER } from '../../src/controller/resources/deployment.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { ANNOTATION_CODE_HASH, desiredInstances, functionLabels } from '../../src/controller/resources/names.js';
import { FUNCTIONS_POLICY, buildFunctionsNetworkPolicy } from '../../src/controller/resources/networkpolicy.js';
import { buildService } from '../../src/controller/resources/service.js';
import { buildServiceAccount } from '../../src/controller/resources/serviceaccount.js';
import { checkFunction } from '../../src/controller/resources/validation.js';
import { fn, input } from './fixtures.js';

const images = defaultImages('1.2.3');
const deploy = (f: ReturnType<typeof fn>) => buildDeployment(input(f), { images });
const container = (f: ReturnType<typeof fn>, name: string): V1Container | undefined => {
  const spec = deploy(f).spec?.template.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((c) => c.name === name);
};
const envOf = (c: V1Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('Deployment', () => {
  it.each([
    ['python', fn('a'), images.python],
    ['nodejs', fn('a', { runtime: 'nodejs22', handler: 'index.handler' }), images.nodejs],
    ['go', fn('a', { runtime: 'go', handler: undefined }), images.go],
    ['an image', fn('a', { runtime: 'provided', handler: undefined, code: { image: 'example.com/me/fn:7' } }), 'example.com/me/fn:7'],
  ])('runs %s code in the runtime container', (_what, f, image) => {
    expect(container(f, RUNTIME_CONTAINER)?.image).toBe(image);
    expect(container(f, AGENT_CONTAINER)?.image).toBe('ghcr.io/hearth-dev/agent:1.2.3');
  });

  it.each([
    ['spec.replicas when set', { replicas: 4, scaling: { minInstances: 1 } }, 4],
    ['minInstances otherwise', { scaling: { minInstances: 2 } }, 2],
    ['zero by default (scale to zero)', {}, 0],
  ])('wants %s', (_what, spec, replicas) => {
    const f = fn('a', spec);
    expect(desiredInstances(f)).toBe(replicas);
    expect(deploy(f).spec?.replicas).toBe(replicas);
  });

  it('runs the agent as the first app container, before the runtime, with probes on its port', () => {
    const agent = container(fn('a'), AGENT_CONTAINER);
    // The kubelet starts app containers in order, each after the one before has run its postStart hook.
    expect(deploy(fn('a')).spec?.template.spec?.containers.map((c) => c.name)).toEqual([AGENT_CONTAINER, RUNTIME_CONTAINER]);
    expect(agent?.restartPolicy).toBeUndefined();
    expect(agent?.startupProbe).toBeUndefined();
    expect(agent?.args).toEqual(expect.arrayContaining(['agent', '--listen', '0.0.0.0:9000', '--runtime-api', '127.0.0.1:9001']));
    expect(agent?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(agent?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(agent?.ports).toEqual([{ name: 'http', containerPort: 9000, protocol: 'TCP' }]);
  });

  it('drains the agent before the runtime or the agent gets SIGTERM, within a grace that covers the drain', () => {
    const f = fn('a', { timeoutSeconds: 30 });
    const rt = container(f, RUNTIME_CONTAINER);
    // The agent's port by number: a hook's named port is looked up among the runtime container's own ports.
    expect(rt?.lifecycle).toEqual({ preStop: { httpGet: { path: '/drain', port: 9000 } } });
    expect(container(f, AGENT_CONTAINER)?.lifecycle?.preStop).toEqual({ httpGet: { path: '/drain', port: 9000 } });
    // Queued calls wait one timeout for the runtime, the last one handed over runs one more.
    expect(deploy(f).spec?.template.spec?.terminationGracePeriodSeconds).toBe(70);
    expect(deploy(fn('b', { timeoutSeconds: 3 })).spec?.template.spec?.terminationGracePeriodSeconds).toBe(16);
  });

  it('meets the restricted pod security profile in every container', () => {
    const d = deploy(fn('a'));
    const pod = d.spec?.template.spec;
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod?.shareProcessNamespace).toBe(true);
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  it.each([
    [undefined, '512Mi'],
    [2048, '2048Mi'],
  ])('sizes /tmp (an emptyDir) from ephemeralStorageMB %s', (ephemeralStorageMB, sizeLimit) => {
    const pod = deploy(fn('t', ephemeralStorageMB === undefined ? {} : { ephemeralStorageMB })).spec?.template.spec;
    const tmp = container(fn('t'), RUNTIME_CONTAINER)?.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(tmp?.name).toBe('tmp');
    expect(pod?.volumes?.find((v) => v.name === 'tmp')?.emptyDir).toEqual({ sizeLimit });
  });

  it('sets the memory limit from memoryMB and the Lambda environment', () => {
    const f = fn('hello', { memoryMB: 512, concurrency: 3, env: [{ name: 'A', value: '1' }, { name: 'S', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }, { name: 'C', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k', optional: true } } }] });
    const rt = container(f, RUNTIME_CONTAINER);
    expect(rt?.resources?.limits).toEqual({ memory: '512Mi' });
    expect(envOf(rt)).toMatchObject({
      A: '1',
      S: { secretKeyRef: { name: 'sec', key: 'k' } },
      C: { configMapKeyRef: { name: 'cm', key: 'k', optional: true } },
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
      _HANDLER: 'app.handler',
      LAMBDA_TASK_ROOT: '/var/task',
      AWS_LAMBDA_FUNCTION_NAME: 'hello',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_MAX_CONCURRENCY: '3',
    });
  });

  it.each([
    ['inline code from its own ConfigMap', fn('a'), 'a-code'],
    ['a ConfigMap code source from the user\'s ConfigMap', fn('a', { code: { configMap: { name: 'src' } } }), 'src'],
    ['an image with nothing mounted', fn('a', { runtime: 'provided', handler: undefined, code: { image: 'x/y:1' } }), undefined],
  ])('mounts %s at /var/task read-only', (_what, f, configMap) => {
    const d = deploy(f);
    const rt = container(f, RUNTIME_CONTAINER);
    const code = rt?.volumeMounts?.find((m) => m.mountPath === '/var/task');
    expect(code?.readOnly ?? undefined).toBe(configMap === undefined ? undefined : true);
    expect(d.spec?.template.spec?.volumes?.find((v) => v.name === 'code')?.configMap?.name).toBe(configMap);
    expect(rt?.volumeMounts?.find((m) => m.mountPath === '/tmp')).toBeDefined();
  });

  it('changes the pod template annotation when, and only when, the code changes', () => {
    const a = deploy(fn('a')).spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
    const moreMemory = deploy(fn('a', { memoryMB: 256 })).spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
    const newCode = deploy(fn('a', { code: { inline: { 'app.py': 'x' } } })).spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
    expect(a).toBe(moreMemory);
    expect(a).not.toBe(newCode);
    expect(codeHash({ image: 'a:1' })).not.toBe(codeHash({ image: 'a:2' }));
  });

  it('uses the named ServiceAccount or its own', () => {
    expect(deploy(fn('a')).spec?.template.spec?.serviceAccountName).toBe('a');
    expect(deploy(fn('a', { serviceAccountName: 'role' })).spec?.template.spec?.serviceAccountName).toBe('role');
  });

  it('labels, selects and owns by the function', () => {
    const d = deploy(fn('a'));
    expect(d.metadata?.labels).toEqual(functionLabels('a'));
    expect(d.spec?.selector.matchLabels).toEqual({ 'hearth.dev/function': 'a' });
    expect(d.spec?.template.metadata?.labels).toEqual(functionLabels('a'));
    expect(d.metadata?.ownerReferences).toEqual([{ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', name: 'a', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  });
});

describe('the other owned objects', () => {
  it('ConfigMap holds inline files, and exists only for inline code', () => {
    expect(buildCodeConfigMap(input(fn('a')))).toMatchObject({ metadata: { name: 'a-code', namespace: 'team' }, data: { 'app.py': expect.any(String) } });
    expect(buildCodeConfigMap(input(fn('a', { code: { configMap: { name: 'x' } } })))).toBeUndefined();
  });

  it('ServiceAccount exists unless one is named', () => {
    expect(buildServiceAccount(input(fn('a')))).toMatchObject({ metadata: { name: 'a' }, automountServiceAccountToken: false });
    expect(buildServiceAccount(input(fn('a', { serviceAccountName: 'role' })))).toBeUndefined();
  });

  it('Service sends port 9000 to the agent', () => {
    expect(buildService(input(fn('a'))).spec).toMatchObject({ selector: { 'hearth.dev/function': 'a' }, ports: [{ port: 9000, targetPort: 'http' }] });
  });

  it("the namespace's NetworkPolicy selects every Hearth pod and admits only gateway pods of the gateway namespace, on the agent port", () => {
    const np = buildFunctionsNetworkPolicy('team-a', 'hearth-system');
    expect(np.metadata).toMatchObject({ name: FUNCTIONS_POLICY, namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'hearth' } });
    expect(np.metadata.ownerReferences).toBeUndefined();
    // Function pods of $LATEST and of versions, idle and claimed pool pods: all carry it.
    expect(np.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/managed-by': 'hearth' });
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'hearth-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'gateway' } } }],
        ports: [{ protocol: 'TCP', port: 9000 }],
      },
    ]);
  });
});

describe('deeper validation', () => {
  const obj = (spec: unknown) => ({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f', namespace: 'n', uid: 'u', generation: 2, resourceVersion: '9', managedFields: [] }, spec, status: { conditions: [] } });
  const base = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } } };

  it.each([
    ['a bad cron expression', { ...base, schedules: [{ name: 't', cron: 'every tuesday' }] }, 'InvalidSpec', 'spec.schedules[0].cron'],
    ['a missing handler', { ...base, handler: undefined }, 'InvalidSpec', 'spec.handler'],
    ['memory out of range', { ...base, memoryMB: 64 }, 'InvalidSpec', 'spec.memoryMB: must be at least 128'],
    ['a package on a local disk', { ...base, code: { package: { path: 'fn.zip' } } }, 'UnsupportedSpec', 'spec.code.package.path'],
    ['a layer on a local disk', { ...base, layers: [{ url: 'https://x/l.zip', sha256: 'b'.repeat(64) }, { path: 'l.zip' }] }, 'UnsupportedSpec', 'spec.layers[1].path'],
  ])('refuses %s with the field path', (_what, spec, reason, message) => {
    const r = checkFunction(obj(spec), images);
    expect(r).toMatchObject({ ok: false, reason, message: expect.stringContaining(message) });
  });

  it('accepts a valid spec, filling schema defaults and ignoring server metadata and status', () => {
    const r = checkFunction(obj(base), images);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.fn.spec.memoryMB).toBe(128);
      expect(r.meta).toEqual({ name: 'f', namespace: 'n', uid: 'u', generation: 2 });
    }
  });
});

describe('Deployment of a function shipped as ZIP packages', () => {
  const zipped = fn('zipped', {
    runtime: 'provided',
    handler: undefined,
    code: { package: { configMap: { name: 'zipped-package', key: 'package.zip' } } },
    layers: [{ url: 'https://example.com/layer.zip', sha256: 'c'.repeat(64) }],
  });
  const d = deploy(zipped);
  const pod = d.spec?.template.spec;
  const runtime = pod?.containers.find((c) => c.name === RUNTIME_CONTAINER);

  it('unpacks the package and layers in init containers before the agent starts', () => {
    const names = (pod?.initContainers ?? []).map((c) => c.name);
    expect(names).toEqual(['unpack-task', 'unpack-opt']);
    expect(pod?.initContainers?.[0]?.args).toEqual(expect.arrayContaining(['unpack', '--dest', '/var/task']));
    expect(pod?.initContainers?.[0]?.image).toBe(images.agent);
  });

  it('runs the provided runtime image with /var/task and /opt read-only', () => {
    expect(runtime?.image).toBe(images.provided);
    expect(runtime?.volumeMounts).toEqual(expect.arrayContaining([
      expect.objectContaining({ mountPath: '/var/task', readOnly: true }),
      expect.objectContaining({ mountPath: '/opt', readOnly: true }),
    ]));
    expect(runtime?.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['PATH', 'LAMBDA_TASK_ROOT']));
  });

  it('keeps every init container inside the restricted profile', () => {
    for (const c of pod?.initContainers ?? []) expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });
});
