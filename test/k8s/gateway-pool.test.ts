// The gateway's side of warm pools against a real API server (no nodes, no
// controller): it claims an idle pool pod by a conditional merge patch,
// gives the pod's agent the function, and takes the pod as an instance at
// once; of two gateways racing for one pod exactly one wins; a function
// with its own ServiceAccount never claims; and a pod of a unit is an
// instance as soon as its agent's /readyz?wait answers, without any
// EndpointSlice. Pods here are objects only: held back from scheduling by
// a scheduling gate, with a status this test writes, whose podIP is
// 127.0.0.1, where a fake agent of this test listens (the backend's
// agentPort points at it).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { Agent, buildConnector } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { DRAINING_HEADER, DRAINING_STATUS } from '../../src/agent/delivery.js';
import { INVOKE_PATH, REQUEST_HEADERS, resultToHeaders } from '../../src/agent/invoke-headers.js';
import { pino } from 'pino';
import { startClusterGateway, type ClusterGateway } from '../../src/platform/cluster.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { FunctionSchema, type FunctionSpecInput, type HearthFunction } from '../../src/api/function.js';
import { KubernetesBackend } from '../../src/backends/kubernetes/backend.js';
import type { KubernetesInstance } from '../../src/backends/kubernetes/instance.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_APPLY, CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
import { createGatewayPoolMetrics, type GatewayPoolMetrics } from '../../src/metrics/pools.js';
import { ANNOTATION_CLAIMED_AT, ANNOTATION_CLAIMED_BY, ANNOTATION_SPEC_HASH, LABEL_CLAIMED, LABEL_CLAIMED_FROM, LABEL_POOL, poolPodLabels, unitPodLabels } from '../../src/pools/labels.js';
import { instanceSpecHash, SPECIALIZE_PATH, SpecializationSchema, type Specialization } from '../../src/pools/specialization.js';
import { createNamespace, deleteNamespace, eventually, functionManifest, installCrds } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const warmPoolCrd = fileURLToPath(new URL('../../crds/hearth.dev_warmpools.yaml', import.meta.url));

interface PodWire {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
}

/**
 * A fake agent on loopback: records specialisations (answering 200, or 500
 * for units in `refuse`) and holds /readyz?wait until `ready`. As a pool
 * pod's (`pool`), /readyz answers 200 "idle" until its specialisation, as
 * hearth agent --pool does.
 */
class FakeAgent {
  readonly specializations: Specialization[] = [];
  readonly readyzQueries: string[] = [];
  readonly refuse = new Set<string>();
  ready = false;
  constructor(readonly pool = false) {}
  #server: Server = createServer((req, res) => void this.#handle(req, res));
  #waiting = new Set<() => void>();
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  becomeReady(): void {
    this.ready = true;
    for (const w of this.#waiting) w();
    this.#waiting.clear();
  }

  async stop(): Promise<void> {
    for (const w of this.#waiting) w();
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method === 'POST' && url.pathname === INVOKE_PATH) {
      // The function this agent was given answers with its greeting and the event.
      const given = this.specializations.at(-1);
      // Before its specialisation a pool pod's agent refuses a call as not delivered, as hearth agent --pool does.
      if (given === undefined) return void res.writeHead(DRAINING_STATUS, { [DRAINING_HEADER]: '1' }).end('{}');
      const requestId = String(req.headers[REQUEST_HEADERS.requestId] ?? '');
      const payload = Buffer.from(JSON.stringify({ greeting: given.env.GREETING, unit: given.unit, event: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown }));
      return void res.writeHead(200, resultToHeaders({ outcome: 'success', payload, durationMs: 1 }, requestId)).end(payload);
    }
    if (req.method === 'POST' && url.pathname === SPECIALIZE_PATH) {
      const body = SpecializationSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      this.specializations.push(body);
      if (this.refuse.has(body.unit)) return void res.writeHead(500).end('{"errorMessage":"cannot write the code"}');
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ unit: body.unit, specializedMs: 1 }));
    }
    if (url.pathname === '/readyz') {
      this.readyzQueries.push(url.search);
      if (this.pool && this.specializations.length === 0) return void res.writeHead(200).end('{"status":"idle","pool":"idle pool pod"}');
      const answer = (): void => void res.writeHead(this.ready ? 200 : 503).end(this.ready ? '{"status":"ready"}' : '{"status":"starting"}');
      const wait = Number(url.searchParams.get('wait') ?? '0');
      if (this.ready || wait <= 0) return answer();
      const t = setTimeout(() => {
        this.#waiting.delete(done);
        answer();
      }, wait);
      const done = (): void => {
        clearTimeout(t);
        answer();
      };
      this.#waiting.add(done);
      return;
    }
    res.writeHead(404).end();
  }
}

async function installWarmPoolCrd(rest: KubeRest): Promise<void> {
  const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/warmpools.hearth.dev';
  for (const doc of parseAllDocuments(await readFile(warmPoolCrd, 'utf8'))) {
    await rest.request('PATCH', crdPath, { body: doc.toJS(), contentType: CONTENT_APPLY, query: { fieldManager: 'hearth-gateway-pool-tests', force: true } });
  }
  await eventually('the WarmPool CRD Established', async () => {
    const crd = await rest.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', crdPath);
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
  }, 30_000);
}

const spec = (over: Partial<FunctionSpecInput> = {}): FunctionSpecInput => ({
  runtime: 'python3.12',
  handler: 'app.handler',
  code: { inline: { 'app.py': 'def handler(event, context):\n    return {"hello": "pool"}\n' } },
  env: [{ name: 'GREETING', value: 'from-the-pool' }],
  scaling: { minInstances: 0, maxInstances: 5 },
  ...over,
});

const unit = (name: string, s: FunctionSpecInput): HearthFunction => FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec: s });

/** A pod object that never schedules (a scheduling gate), with the status a kubelet would write: running at 127.0.0.1, Ready or not. */
async function podObject(rest: KubeRest, ns: string, name: string, labels: Record<string, string>, o: { ready: boolean; finalizer?: boolean; ip?: string }): Promise<void> {
  const ip = o.ip ?? '127.0.0.1';
  const body = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels, ...(o.finalizer === true ? { finalizers: ['hearth.dev/test-hold'] } : {}) },
    spec: { schedulingGates: [{ name: 'hearth.dev/test' }], automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'hearth/agent:test' }] },
  };
  // The namespace's default ServiceAccount, which admission wants, comes from the controller-manager shortly after the namespace.
  await eventually(`pod ${name} created`, async () => rest.request('POST', resourcePath(RESOURCES.Pod, ns), { body }).then(() => true), 30_000);
  await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, name, 'status'), {
    body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }] } },
    contentType: CONTENT_MERGE,
  });
}

async function warmPool(rest: KubeRest, ns: string, name: string, memoryMB: number): Promise<void> {
  await rest.request('POST', resourcePath(RESOURCES.WarmPool, ns), {
    body: { apiVersion: RESOURCES.WarmPool.apiVersion, kind: 'WarmPool', metadata: { name }, spec: { runtime: 'python', minSize: 1, maxSize: 5, memoryMB, ephemeralStorageMB: 512 } },
  });
}

const getPod = (rest: KubeRest, ns: string, name: string) => rest.request<PodWire>('GET', resourcePath(RESOURCES.Pod, ns, name));
const replicasOf = async (rest: KubeRest, ns: string, name: string) =>
  (await rest.request<{ spec?: { replicas?: number } }>('GET', resourcePath(RESOURCES.Function, ns, name, 'scale'))).spec?.replicas;

async function counter(m: GatewayPoolMetrics['claims'] | GatewayPoolMetrics['instanceStarts'], labels: Record<string, string>): Promise<number> {
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, want]) => (x.labels as Record<string, string | number | undefined>)[k] === want));
  return v?.value ?? 0;
}

/** The instance appears: resolves on the backend's change notice, so "at once" means no polling by the test. */
function instanceOf(backend: KubernetesBackend, name: string, pod: string, state = 'ready'): Promise<KubernetesInstance> {
  const find = () => (backend.instances(name) as readonly KubernetesInstance[]).find((i) => i.id === pod && i.state === state);
  return new Promise((resolve, reject) => {
    const now = find();
    if (now !== undefined) return resolve(now);
    const t = setTimeout(() => {
      off();
      reject(new Error(`no ${state} instance ${pod} of ${name}`));
    }, 20_000);
    const off = backend.onChange((n) => {
      const i = n === name ? find() : undefined;
      if (i === undefined) return;
      clearTimeout(t);
      off();
      resolve(i);
    });
  });
}

if (!ctx.available) {
  describe.skip(`gateway warm pools (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  const kc = kubeConfigFor(ctx);

  describe('a gateway claims a warm-pool pod, specialises it and takes it as an instance', () => {
    const ns = `gwp-${randomBytes(3).toString('hex')}`;
    const rest = new KubeRest(kc);
    const agent = new FakeAgent();
    const registry = new Registry();
    const metrics = createGatewayPoolMetrics(registry);
    const urls: string[] = [];
    let backend: KubernetesBackend;

    beforeAll(async () => {
      await installCrds(kc);
      await installWarmPoolCrd(rest);
      await createNamespace(rest, ns);
      await agent.start();
      await warmPool(rest, ns, 'python', 128);
      for (const f of ['hello', 'roled', 'broken', 'ready-fn']) {
        const s = f === 'roled' ? spec({ serviceAccountName: 'my-role' }) : spec();
        await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(f, s as Record<string, unknown>) });
      }
      for (const p of ['pool-a', 'pool-b', 'pool-c']) await podObject(rest, ns, p, poolPodLabels('python', 'python'), { ready: true });
      backend = new KubernetesBackend({
        kubeConfig: kc,
        namespace: ns,
        agentPort: agent.port,
        metrics,
        claimedBy: 'gateway-a',
        makeClient: (url) => {
          urls.push(url);
          return { invoke: async (): Promise<InvokeResult> => ({ outcome: 'success', payload: Buffer.from('{"hello":"pool"}'), durationMs: 1 }), close: async () => undefined };
        },
      });
      await backend.start();
    });

    afterAll(async () => {
      await backend?.close();
      await agent.stop();
      // Pods held by a test finalizer would keep the namespace.
      const pods = await rest.request<{ items: PodWire[] }>('GET', resourcePath(RESOURCES.Pod, ns)).catch(() => ({ items: [] }));
      for (const p of pods.items) {
        await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, p.metadata?.name ?? ''), { body: { metadata: { finalizers: null } }, contentType: CONTENT_MERGE }).catch(() => undefined);
      }
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('claims one idle pod, sends the function, and the pod is a ready instance at once; then writes the scale', async () => {
      const s = spec();
      await backend.upsert(unit('hello', s));
      const started = Date.now();
      await backend.scale('hello', 1);
      expect(await replicasOf(rest, ns, 'hello')).toBe(1);

      // Exactly one pool pod is now hello's: relabelled and annotated by the claim.
      const pods = await Promise.all(['pool-a', 'pool-b', 'pool-c'].map((p) => getPod(rest, ns, p)));
      const claimed = pods.filter((p) => p.metadata?.labels?.[LABEL_CLAIMED] === 'true');
      expect(claimed).toHaveLength(1);
      const pod = claimed[0] as PodWire;
      const name = pod.metadata?.name as string;
      expect(pod.metadata?.labels).toMatchObject({ ...unitPodLabels('hello'), [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: 'python' });
      expect(pod.metadata?.labels?.[LABEL_POOL]).toBeUndefined();
      expect(pod.metadata?.annotations?.[ANNOTATION_SPEC_HASH]).toBe(instanceSpecHash(unit('hello', s).spec));
      expect(pod.metadata?.annotations?.[ANNOTATION_CLAIMED_BY]).toBe('gateway-a');
      const claimedAt = Date.parse(pod.metadata?.annotations?.[ANNOTATION_CLAIMED_AT] ?? '');
      expect(claimedAt).toBeGreaterThanOrEqual(started - 1000);

      // The instance is there as soon as the agent took the function: no EndpointSlice exists (no controller runs here).
      const inst = await instanceOf(backend, 'hello', name);
      expect(inst.address).toBe('127.0.0.1');
      expect(inst.pod).toBe(name);
      const result = await inst.invoke({ requestId: 'r1', payload: Buffer.from('{}'), timeoutMs: 3000, invokedFunctionArn: 'arn' });
      expect(result.outcome).toBe('success');
      expect(urls).toContain(`http://127.0.0.1:${agent.port}`);

      // What the agent was given: the function's variables and its code.
      expect(agent.specializations).toHaveLength(1);
      const sent = agent.specializations[0] as Specialization;
      expect(sent).toMatchObject({ unit: 'hello', functionName: 'hello', version: '$LATEST', memoryMB: 128, concurrency: 1 });
      expect(sent.env).toMatchObject({ GREETING: 'from-the-pool', AWS_LAMBDA_FUNCTION_NAME: 'hello', _HANDLER: 'app.handler' });
      expect(Buffer.from(sent.files?.['app.py'] ?? '', 'base64').toString('utf8')).toContain('return {"hello": "pool"}');

      expect(await counter(metrics.claims, { runtime: 'python', outcome: 'claimed' })).toBe(1);
      expect(await counter(metrics.instanceStarts, { function: 'hello', version: '$LATEST', path: 'pool' })).toBe(1);
      expect(await counter(metrics.instanceStarts, { function: 'hello', path: 'pod' })).toBe(0);
      expect((await metrics.specializationSeconds.get()).values.find((v) => v.metricName === 'hearth_pool_specialization_seconds_count')?.value).toBe(1);

      // Asked again for the same one instance: nothing more is claimed.
      await backend.scale('hello', 1);
      expect(agent.specializations).toHaveLength(1);
    });

    it('concurrent scale calls claim no more pods than asked for', async () => {
      // hello has 1; two calls at once for 2 claim exactly one more.
      await Promise.all([backend.scale('hello', 2), backend.scale('hello', 2)]);
      await eventually('2 ready instances of hello', async () => (backend.instances('hello').filter((i) => i.state === 'ready').length === 2 ? true : undefined), 20_000);
      expect(agent.specializations.filter((s) => s.unit === 'hello')).toHaveLength(2);
      expect(await counter(metrics.claims, { runtime: 'python', outcome: 'claimed' })).toBe(2);
    });

    it('a function with its own ServiceAccount never claims: its Deployment starts its pods', async () => {
      await backend.upsert(unit('roled', spec({ serviceAccountName: 'my-role' })));
      await backend.scale('roled', 1);
      expect(await replicasOf(rest, ns, 'roled')).toBe(1);
      expect(agent.specializations.filter((s) => s.unit === 'roled')).toHaveLength(0);
      // The pool's last idle pod is still the pool's.
      const idle = (await Promise.all(['pool-a', 'pool-b', 'pool-c'].map((p) => getPod(rest, ns, p)))).filter((p) => p.metadata?.labels?.[LABEL_POOL] === 'python');
      expect(idle).toHaveLength(1);
      expect(await counter(metrics.instanceStarts, { function: 'roled', path: 'pod' })).toBe(1);
    });

    it('a failed specialisation marks the pod failed and leaves the start to the Deployment', async () => {
      agent.refuse.add('broken');
      await backend.upsert(unit('broken', spec()));
      await backend.scale('broken', 1);
      expect(await replicasOf(rest, ns, 'broken')).toBe(1);
      const pod = await eventually('the claimed pod marked failed', async () => {
        const pods = await Promise.all(['pool-a', 'pool-b', 'pool-c'].map((p) => getPod(rest, ns, p)));
        return pods.find((p) => p.metadata?.labels?.['hearth.dev/function'] === 'broken' && p.metadata.annotations?.[ANNOTATION_SPEC_HASH] === 'failed');
      }, 20_000);
      expect(pod.metadata?.labels?.[LABEL_CLAIMED]).toBe('true');
      expect(backend.instances('broken')).toHaveLength(0);
      expect(await counter(metrics.claims, { runtime: 'python', outcome: 'failed' })).toBe(1);
      expect(await counter(metrics.instanceStarts, { function: 'broken', path: 'pod' })).toBe(1);
    });

    it('an empty pool: counted, and the Deployment starts the pod', async () => {
      await backend.upsert(unit('hello', spec()));
      await backend.scale('hello', 3);
      expect(await replicasOf(rest, ns, 'hello')).toBe(3);
      expect(await counter(metrics.claims, { runtime: 'python', outcome: 'empty' })).toBeGreaterThanOrEqual(1);
      expect(await counter(metrics.instanceStarts, { function: 'hello', path: 'pod' })).toBe(1);
      expect(agent.specializations.filter((s) => s.unit === 'hello')).toHaveLength(2);
    });

    it('a pod of a unit is an instance as soon as its agent answers /readyz?wait, without any EndpointSlice; its deletion shows at once', async () => {
      await backend.upsert(unit('ready-fn', spec()));
      await podObject(rest, ns, 'ready-fn-pod', unitPodLabels('ready-fn'), { ready: false, finalizer: true });
      await eventually('the gateway long-polls the agent', async () => (agent.readyzQueries.length > 0 ? true : undefined), 20_000);
      expect(agent.readyzQueries[0]).toBe('?wait=10000');
      expect(backend.instances('ready-fn')).toHaveLength(0);
      const ready = instanceOf(backend, 'ready-fn', 'ready-fn-pod');
      agent.becomeReady();
      const inst = await ready;
      expect(inst.address).toBe('127.0.0.1');
      // No Service, so no EndpointSlice of the unit: the instance came from the agent.
      const slices = await rest.request<{ items: unknown[] }>('GET', resourcePath(RESOURCES.EndpointSlice, ns));
      expect(slices.items).toHaveLength(0);

      // Deleted (held by a finalizer): draining at once; gone when the pod is.
      const draining = instanceOf(backend, 'ready-fn', 'ready-fn-pod', 'draining');
      await rest.request('DELETE', resourcePath(RESOURCES.Pod, ns, 'ready-fn-pod'));
      await draining;
      const gone = new Promise<void>((resolve) => {
        const off = backend.onChange((n) => {
          if (n === 'ready-fn' && backend.instances('ready-fn').length === 0) {
            off();
            resolve();
          }
        });
      });
      await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, 'ready-fn-pod'), { body: { metadata: { finalizers: null } }, contentType: CONTENT_MERGE });
      await gone;
    });
  });

  describe('two gateways race for one idle pod', () => {
    const ns = `gwr-${randomBytes(3).toString('hex')}`;
    const rest = new KubeRest(kc);
    const agent = new FakeAgent();
    const gateways: { backend: KubernetesBackend; metrics: GatewayPoolMetrics }[] = [];

    beforeAll(async () => {
      await installCrds(kc);
      await installWarmPoolCrd(rest);
      await createNamespace(rest, ns);
      await agent.start();
      await warmPool(rest, ns, 'python', 128);
      for (const f of ['one', 'two']) await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(f, spec() as Record<string, unknown>) });
      await podObject(rest, ns, 'only-pod', poolPodLabels('python', 'python'), { ready: true });
      // Both gateways list the pod before either claims: each has it, Ready and idle, in its cache.
      for (const id of ['gateway-a', 'gateway-b']) {
        const metrics = createGatewayPoolMetrics(new Registry());
        const backend = new KubernetesBackend({ kubeConfig: kc, namespace: ns, agentPort: agent.port, metrics, claimedBy: id });
        await backend.start();
        gateways.push({ backend, metrics });
      }
    });

    afterAll(async () => {
      for (const g of gateways) await g.backend.close();
      await agent.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('exactly one claims it; the other gets 409 and falls back to its Deployment', async () => {
      const [a, b] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];
      await a.backend.upsert(unit('one', spec()));
      await b.backend.upsert(unit('two', spec()));
      await Promise.all([a.backend.scale('one', 1), b.backend.scale('two', 1)]);
      // Both counts are written, whoever won.
      expect(await replicasOf(rest, ns, 'one')).toBe(1);
      expect(await replicasOf(rest, ns, 'two')).toBe(1);
      await eventually('the winner has its instance', async () => (a.backend.instances('one').length + b.backend.instances('two').length === 1 ? true : undefined), 20_000);
      const count = async (g: (typeof gateways)[0], fn: string) => ({
        claimed: await counter(g.metrics.claims, { outcome: 'claimed' }),
        conflict: await counter(g.metrics.claims, { outcome: 'conflict' }),
        podStarts: await counter(g.metrics.instanceStarts, { function: fn, path: 'pod' }),
        poolStarts: await counter(g.metrics.instanceStarts, { function: fn, path: 'pool' }),
      });
      const [ca, cb] = [await count(a, 'one'), await count(b, 'two')];
      expect(ca.claimed + cb.claimed).toBe(1);
      const [win, lose, winner] = ca.claimed === 1 ? [ca, cb, 0] : [cb, ca, 1];
      expect(win).toEqual({ claimed: 1, conflict: 0, podStarts: 0, poolStarts: 1 });
      expect(lose).toEqual({ claimed: 0, conflict: 1, podStarts: 1, poolStarts: 0 });
      expect(agent.specializations).toHaveLength(1);
      const pod = await getPod(rest, ns, 'only-pod');
      expect(pod.metadata?.annotations?.[ANNOTATION_CLAIMED_BY]).toBe(winner === 0 ? 'gateway-a' : 'gateway-b');
      expect(agent.specializations[0]?.unit).toBe(winner === 0 ? 'one' : 'two');
    });
  });
}

/**
 * EndpointSlices may not hold loopback addresses, so where slices are part of
 * the test the pods get addresses of their own (TEST-NET-2, never routed) and
 * the backend's agent connections are all made to the fake agent on loopback.
 */
if (ctx.available) {
  const kc = kubeConfigFor(ctx);

  describe('slices and agents together', () => {
    const ns = `gws-${randomBytes(3).toString('hex')}`;
    const rest = new KubeRest(kc);
    const agent = new FakeAgent();
    const poolAgent = new FakeAgent(true);
    const connect = buildConnector({ timeout: 2000 });
    // The pool pod's address reaches the pool pod's agent; any other, the other agent.
    const toLoopback = new Agent({
      connect: (opts, cb) => connect({ ...opts, hostname: '127.0.0.1', host: '127.0.0.1', port: String(opts.hostname === '198.51.100.7' ? poolAgent.port : agent.port) }, cb),
    });
    let backend: KubernetesBackend;
    /** Another gateway replica, which did not claim the pod. */
    let other: KubernetesBackend;

    beforeAll(async () => {
      await installCrds(kc);
      await installWarmPoolCrd(rest);
      await createNamespace(rest, ns);
      await agent.start();
      await poolAgent.start();
      await warmPool(rest, ns, 'python', 128);
      for (const f of ['hello', 'polled']) {
        await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(f, spec() as Record<string, unknown>) });
        // The unit's Service, as the controller makes it; publishNotReadyAddresses since these pods are on no node.
        await rest.request('POST', resourcePath(RESOURCES.Service, ns), {
          body: { apiVersion: 'v1', kind: 'Service', metadata: { name: f }, spec: { selector: { 'hearth.dev/function': f }, publishNotReadyAddresses: true, ports: [{ port: 9000 }] } },
        });
      }
      await podObject(rest, ns, 'pool-x', poolPodLabels('python', 'python'), { ready: true, ip: '198.51.100.7' });
      backend = new KubernetesBackend({
        kubeConfig: kc,
        namespace: ns,
        agentPort: agent.port,
        agentDispatcher: toLoopback,
        makeClient: () => ({ invoke: async (): Promise<InvokeResult> => ({ outcome: 'success', payload: Buffer.from('{}'), durationMs: 1 }), close: async () => undefined }),
      });
      await backend.start();
      other = new KubernetesBackend({ kubeConfig: kc, namespace: ns, agentPort: agent.port, agentDispatcher: toLoopback });
      await other.start();
    });

    afterAll(async () => {
      await backend?.close();
      await other?.close();
      await toLoopback.close();
      await agent.stop();
      await poolAgent.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    const serving = (svc: string, pod: string, want: boolean) =>
      eventually(`the slice of ${svc} says ${pod} serving=${want}`, async () => {
        const slices = await rest.request<{ items: { endpoints?: { targetRef?: { name?: string }; conditions?: { serving?: boolean } }[] }[] }>('GET', resourcePath(RESOURCES.EndpointSlice, ns), {
          query: { labelSelector: `kubernetes.io/service-name=${svc}` },
        });
        return slices.items.some((sl) => sl.endpoints?.some((e) => e.targetRef?.name === pod && e.conditions?.serving === want)) ? true : undefined;
      }, 30_000);
    /** The pod's Ready condition as a kubelet writes it (seconds only), turning now. */
    const setReady = (pod: string, ready: boolean) =>
      rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, pod, 'status'), {
        body: { status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } },
        contentType: CONTENT_MERGE,
      });
    /** Resolves after the backend has handled a change of `unit` made after this is called: news that came before it were handled too. */
    const nextChange = (unit: string) =>
      new Promise<void>((resolve) => {
        const off = backend.onChange((n) => {
          if (n !== unit) return;
          off();
          resolve();
        });
      });
    const stateOf = (unit: string, pod: string, b = backend) => (b.instances(unit) as readonly KubernetesInstance[]).find((i) => i.id === pod)?.state;

    it("a claimed pod stays ready while its slice tells of the probe that failed during its specialisation; once Ready again, the slice speaks for it", async () => {
      await backend.upsert(unit('hello', spec()));
      await backend.scale('hello', 1);
      const inst = await instanceOf(backend, 'hello', 'pool-x');
      expect(inst.address).toBe('198.51.100.7');
      // The claim made the Service select the pod; it was Ready as an idle pod, so its slice says serving.
      await serving('hello', 'pool-x', true);
      await other.upsert(unit('hello', spec()));
      // The other gateway sees that slice, but not the agent's word yet (its runtime initialises): starting, not chosen.
      await eventually("the other gateway's instance of pool-x", async () => stateOf('hello', 'pool-x', other));
      expect(stateOf('hello', 'pool-x', other)).toBe('starting');
      // The runtime is up: the other gateway's long poll hears it from the agent.
      await eventually('the other gateway polls the agent', async () => (poolAgent.readyzQueries.length > 0 ? true : undefined), 20_000);
      const otherReady = instanceOf(other, 'hello', 'pool-x');
      poolAgent.becomeReady();
      await otherReady;
      // The probe fails while the runtime initialises: the slice says not serving, but the agent took the function and queues calls.
      await setReady('pool-x', false);
      await serving('hello', 'pool-x', false);
      const marker = nextChange('hello');
      // A marker the slice alone tells of (claimed pods are not polled): its news come after pool-x's.
      await podObject(rest, ns, 'hello-marker', { ...unitPodLabels('hello'), [LABEL_CLAIMED]: 'true' }, { ready: false, ip: '198.51.100.8' });
      await marker;
      expect(stateOf('hello', 'pool-x')).toBe('ready');
      // Ready again, from now: the slice speaks for the pod, and a later "not serving" is taken.
      await setReady('pool-x', true);
      await serving('hello', 'pool-x', true);
      const starting = instanceOf(backend, 'hello', 'pool-x', 'starting');
      await setReady('pool-x', false);
      expect((await starting) === inst).toBe(true);
    });

    it('a gateway that starts after a claim (slices before pods, the pod Ready since before its claim) asks the agent and serves the pod', async () => {
      // As after every gateway pod was replaced: the new gateway lists the claimed pod's slice ("ready", the idle pod's Ready) before the pod itself.
      agent.becomeReady();
      await rest.request('POST', resourcePath(RESOURCES.Service, ns), {
        body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'late' }, spec: { selector: { 'hearth.dev/function': 'late' }, publishNotReadyAddresses: true, ports: [{ port: 9000 }] } },
      });
      await podObject(rest, ns, 'late-pod', { ...unitPodLabels('late'), [LABEL_CLAIMED]: 'true' }, { ready: true, ip: '198.51.100.11' });
      await serving('late', 'late-pod', true);
      const late = new KubernetesBackend({ kubeConfig: kc, namespace: ns, agentPort: agent.port, agentDispatcher: toLoopback });
      try {
        await late.upsert(unit('late', spec()));
        await late.start();
        const inst = await instanceOf(late, 'late', 'late-pod');
        expect(inst.address).toBe('198.51.100.11');
      } finally {
        await late.close();
      }
    });

    it('a pod learned ready from its agent keeps its instance when its slice lists it, and the slice takes over', async () => {
      await backend.upsert(unit('polled', spec()));
      agent.becomeReady();
      const learned = instanceOf(backend, 'polled', 'polled-pod');
      await podObject(rest, ns, 'polled-pod', unitPodLabels('polled'), { ready: false, ip: '198.51.100.9' });
      const inst = await learned;
      // Its slice lists it as not serving yet (the probe has not passed): still ready, the same instance.
      await serving('polled', 'polled-pod', false);
      const marker = nextChange('polled');
      await podObject(rest, ns, 'polled-marker', { ...unitPodLabels('polled'), [LABEL_CLAIMED]: 'true' }, { ready: false, ip: '198.51.100.10' });
      await marker;
      expect(stateOf('polled', 'polled-pod')).toBe('ready');
      await setReady('polled-pod', true);
      await serving('polled', 'polled-pod', true);
      expect((backend.instances('polled') as readonly KubernetesInstance[]).find((i) => i.id === 'polled-pod') === inst).toBe(true);
      const starting = instanceOf(backend, 'polled', 'polled-pod', 'starting');
      await setReady('polled-pod', false);
      expect((await starting) === inst).toBe(true);
    });
  });
}

if (ctx.available) {
  const kc = kubeConfigFor(ctx);

  describe('hearth gateway: a call at zero instances answered from a warm-pool pod', () => {
    const ns = `gwc-${randomBytes(3).toString('hex')}`;
    const rest = new KubeRest(kc);
    const agent = new FakeAgent(true);
    let redis: RedisServer;
    let gateway: ClusterGateway;

    beforeAll(async () => {
      await installCrds(kc);
      await installWarmPoolCrd(rest);
      await createNamespace(rest, ns);
      await agent.start();
      await warmPool(rest, ns, 'python', 128);
      await podObject(rest, ns, 'pool-0', poolPodLabels('python', 'python'), { ready: true });
      redis = await startRedis();
      gateway = await startClusterGateway({ kubeConfig: kc, namespace: ns, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), redis: { url: redis.url }, leaderElect: false, agentPort: agent.port });
    }, 60_000);

    afterAll(async () => {
      await gateway?.close();
      await redis?.stop();
      await agent.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('the call claims the pod, the agent gets the function, the call is answered by it; /metrics counts the start by path', async () => {
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('cold', spec() as Record<string, unknown>) });
      const invoke = () => fetch(`${gateway.url}/2015-03-31/functions/cold/invocations`, { method: 'POST', body: '{"n":1}' });
      await eventually('the gateway knows the function', async () => ((await fetch(`${gateway.url}/2015-03-31/functions/cold/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'DryRun' }, body: '{}' })).status === 204 ? true : undefined), 20_000);
      const res = await invoke();
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ greeting: 'from-the-pool', unit: 'cold', event: { n: 1 } });
      expect(agent.specializations.map((s) => s.unit)).toEqual(['cold']);
      const pod = await getPod(rest, ns, 'pool-0');
      expect(pod.metadata?.labels?.['hearth.dev/function']).toBe('cold');
      expect(await replicasOf(rest, ns, 'cold')).toBe(1);
      // A second call goes to the same instance: nothing more is claimed or started.
      expect((await invoke()).status).toBe(200);
      expect(agent.specializations).toHaveLength(1);

      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/^hearth_instance_starts_total\{function="cold",version="\$LATEST",path="pool"\} 1$/m);
      expect(metrics).toMatch(/^hearth_pool_claims_total\{runtime="python",outcome="claimed"\} 1$/m);
      expect(metrics).toMatch(/^hearth_pool_specialization_seconds_count\{runtime="python"\} 1$/m);
      expect(metrics).not.toMatch(/^hearth_instance_starts_total\{[^}]*path="pod"\}/m);
    });
  });
}

if (ctx.available) {
  const kc = kubeConfigFor(ctx);

  describe('a claim whose claimer went away before specialising it', () => {
    const ns = `gwo-${randomBytes(3).toString('hex')}`;
    const rest = new KubeRest(kc);
    const agent = new FakeAgent(true);
    let backend: KubernetesBackend;

    beforeAll(async () => {
      await installCrds(kc);
      await installWarmPoolCrd(rest);
      await createNamespace(rest, ns);
      await agent.start();
      // Claimed by a gateway that is gone: its agent is still idle, long after the claim; and one claimed just now.
      const claimed = { ...unitPodLabels('lost'), 'hearth.dev/pool-runtime': 'python', [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: 'python' };
      for (const [name, at] of [['orphan', Date.now() - 120_000], ['fresh', Date.now()]] as const) {
        await podObject(rest, ns, name, claimed, { ready: true });
        await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, name), {
          body: { metadata: { annotations: { [ANNOTATION_SPEC_HASH]: 'abc', [ANNOTATION_CLAIMED_AT]: new Date(at).toISOString(), [ANNOTATION_CLAIMED_BY]: 'gateway-gone' } } },
          contentType: CONTENT_MERGE,
        });
      }
      backend = new KubernetesBackend({ kubeConfig: kc, namespace: ns, agentPort: agent.port });
      await backend.start();
    });

    afterAll(async () => {
      await backend?.close();
      await agent.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('is marked failed by a gateway whose poll finds its agent still idle, so the controller replaces it; a recent claim is not', async () => {
      await eventually('the orphan marked failed', async () => ((await getPod(rest, ns, 'orphan')).metadata?.annotations?.[ANNOTATION_SPEC_HASH] === 'failed' ? true : undefined), 20_000);
      expect((await getPod(rest, ns, 'fresh')).metadata?.annotations?.[ANNOTATION_SPEC_HASH]).toBe('abc');
      // Neither is an instance: their agents have no function.
      expect(backend.instances('lost')).toHaveLength(0);
    });
  });
}
