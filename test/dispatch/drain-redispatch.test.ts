// One of two instances drains while callers hammer both, as a pod being
// deleted does: the runtime container's preStop hook calls the agent's
// GET /drain, and the gateway is not told anything else. Real agents with
// real runtime processes, reached over HTTP through the Kubernetes
// backend's instances (AgentClient), as in a cluster. The calls already in
// the draining agent answer; calls sent to it afterwards are refused as
// draining and go to the other instance. No caller sees a failure.
import { request as httpRequest } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { AgentClient } from '../../src/agent/client.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import type { Backend, Instance } from '../../src/backends/backend.js';
import { KubernetesInstance } from '../../src/backends/kubernetes/instance.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { createInvocationMetrics, type InvocationMetrics } from '../../src/metrics/invocations.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { FAKE_RUNTIME, silent } from '../agent/helpers.js';

const FN = 'drainy';

class TwoInstances implements Backend {
  readonly kind = 'kubernetes' as const;
  constructor(readonly list: KubernetesInstance[]) {}
  async upsert(): Promise<void> {}
  async remove(): Promise<void> {}
  async scale(): Promise<void> {}
  instances(): readonly Instance[] {
    return this.list;
  }
  onChange(): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {
    await Promise.all(this.list.map((i) => i.close()));
  }
}

async function startAgent(): Promise<{ agent: Agent; url: URL }> {
  const agent = new Agent({
    functionName: FN,
    concurrency: 2,
    timeoutSeconds: 10,
    logger: silent,
    launcher: spawnLauncher({ command: process.execPath, args: [FAKE_RUNTIME], env: { PATH: process.env.PATH ?? '' } }),
  });
  await agent.start();
  const { url } = await agent.listenInvoke();
  return { agent, url: new URL(url) };
}

let agents: { agent: Agent; url: URL }[] = [];
let backend: TwoInstances;
let dispatcher: Dispatcher;
let metrics: InvocationMetrics;

beforeAll(async () => {
  agents = await Promise.all([startAgent(), startAgent()]);
  const instances = agents.map(
    ({ url }, i) =>
      new KubernetesInstance({
        id: `pod-${i}`,
        functionName: FN,
        address: url.hostname,
        concurrency: 2,
        state: 'ready',
        makeClient: (u) => new AgentClient(u, { connections: 4 }),
        port: Number(url.port),
        now: Date.now() - i,
      }),
  );
  backend = new TwoInstances(instances);
  const catalog = new MemoryCatalog();
  catalog.set(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: FN }, spec: { runtime: 'nodejs20', handler: 'index.handler', code: { image: 'x' }, concurrency: 2, timeoutSeconds: 10, scaling: { maxInstances: 2 } } }));
  metrics = createInvocationMetrics(createRegistry());
  dispatcher = new Dispatcher({ catalog, backend, metrics, maxWaitMs: 10_000 });
}, 60_000);

afterAll(async () => {
  dispatcher?.close();
  await backend?.close();
  await Promise.all(agents.map(({ agent }) => agent.close()));
});

it('drains one agent under load: its calls answer, later ones go to the other, none fails', { timeout: 60_000 }, async () => {
  const [a, b] = agents as [{ agent: Agent; url: URL }, { agent: Agent; url: URL }];
  // The calls agent A took (it answers them) and has answered, by request id.
  const acceptedByA = new Set<string>();
  const answeredByA = new Set<string>();
  const invokeA = a.agent.invoke.bind(a.agent);
  a.agent.invoke = (req) => {
    const p = invokeA(req);
    if (!a.agent.draining && a.agent.state !== 'closed') acceptedByA.add(req.requestId);
    return p.then((r) => (answeredByA.add(req.requestId), r));
  };
  let heldAtDrain: string[] = [];
  let acceptedAtDrain = -1;
  a.agent.on((e) => {
    if (e.type !== 'draining') return;
    heldAtDrain = [...acceptedByA].filter((id) => !answeredByA.has(id));
    acceptedAtDrain = acceptedByA.size;
  });

  let stop = false;
  const failures: string[] = [];
  const succeeded = new Set<string>();
  const caller = async (c: number): Promise<void> => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const requestId = `c${c}-${i}`;
      try {
        const r = await dispatcher.invoke({ functionName: FN, requestId, payload: Buffer.from(JSON.stringify({ action: 'sleep', ms: 20 })), type: 'sync' });
        if (r.outcome === 'success') succeeded.add(requestId);
        else failures.push(`${r.outcome} ${r.payload.toString()}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const callers = Array.from({ length: 8 }, (_, c) => caller(c));

  await new Promise((r) => setTimeout(r, 400));
  // What the kubelet does with the runtime container's preStop hook.
  const drained = await httpRequest(new URL('/drain', a.url));
  const drainBody = (await drained.body.json()) as { status: string };
  expect(drained.statusCode).toBe(200);
  expect(drainBody.status).toBe('drained');
  expect(a.agent.load).toBe(0);
  const answeredAtDrained = succeeded.size;
  await new Promise((r) => setTimeout(r, 400));
  // The agent goes away (SIGTERM after the hook): callers go on meeting only the other instance.
  await a.agent.close();
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await Promise.all(callers);

  expect(failures).toEqual([]);
  // Every call the agent held when its drain began (running or queued) was answered, and it took no new one.
  expect(heldAtDrain.length).toBeGreaterThan(0);
  expect(heldAtDrain.filter((id) => !succeeded.has(id))).toEqual([]);
  expect(acceptedByA.size).toBe(acceptedAtDrain);
  expect(succeeded.size).toBeGreaterThan(answeredAtDrained);
  // Calls that met the draining agent went to the other one, and this gateway stopped choosing it.
  const redispatched = (await metrics.redispatches.get()).values.reduce((n, v) => n + v.value, 0);
  expect(redispatched).toBeGreaterThan(0);
  expect(backend.list[0]?.state).toBe('draining');
  expect(b.agent.state).toBe('ready');
});
