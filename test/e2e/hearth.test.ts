// Hearth end to end on a real cluster whose only stand-in is the node: helm
// install of the chart, examples/ applied with kubectl, and Lambda Invoke API
// calls to the gateway's Service by its cluster DNS name. Runs in order: each
// step builds on the one before, as an operator's session would.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, inject, it } from 'vitest';
import { NS, apiKey, gatewayFetch, containerPid, ctx, invoke, isReady, kubectl, pods, tool, until, api, type PodView } from './cluster.js';
import { applyPythonFunction, applyScheduledFunction } from './functions.js';

function containerLogTail(fnName: string, container: string): string {
  const dir = join(ctx().logsDir, 'pods');
  return readdirSync(dir)
    .filter((d) => d.startsWith(`${NS}_${fnName}-`))
    .map((d) => readFileSync(join(dir, d, `${container}.log`), 'utf8').trimEnd().split('\n').slice(-3).join('\n'))
    .join('\n');
}

/** Log directories (<ns>_<pod>_<uid>) of a function's pods seen so far: a pod claimed from a warm pool keeps its pool's name, so they are found by label. */
const podLogDirsSeen = new Map<string, Set<string>>();

/** Tick times the function printed (TICK {"time": …}), from every runtime container it had. */
async function printedTicks(fnName: string): Promise<string[]> {
  const seen = podLogDirsSeen.get(fnName) ?? new Set<string>();
  podLogDirsSeen.set(fnName, seen);
  for (const p of await pods(NS, `hearth.dev/function=${fnName}`)) seen.add(`${NS}_${p.metadata.name}_${p.metadata.uid}`);
  const dir = join(ctx().logsDir, 'pods');
  return readdirSync(dir)
    .filter((d) => d.startsWith(`${NS}_${fnName}-`) || seen.has(d))
    .filter((d) => existsSync(join(dir, d, 'runtime.log')))
    .flatMap((d) => [...readFileSync(join(dir, d, 'runtime.log'), 'utf8').matchAll(/TICK (\{[^\n]*\})/g)])
    .map((m) => (JSON.parse(m[1] ?? '{}') as { time: string }).time);
}

/** hearth_schedule_invocations_total of one function, summed over the gateway pods (each counts the ticks it sent). */
async function scheduleCounterSum(fnName: string, gateways: PodView[]): Promise<number> {
  let sum = 0;
  for (const g of gateways) {
    const text = await (await fetch(`http://${g.status.podIP ?? ''}:8080/metrics`, { headers: { authorization: `Bearer ${await apiKey()}` } })).text();
    const line = text.split('\n').find((l) => l.startsWith('hearth_schedule_invocations_total{') && l.includes(`function="${fnName}"`));
    sum += line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

interface FunctionView {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * The instances the Function's scale subresource asks for (what the
 * autoscaler writes). Not its Deployment's: with warm pools on, the
 * controller gives the Deployment only what claimed pool pods do not cover.
 */
async function functionReplicas(name: string): Promise<number> {
  const scale = await api().get<{ spec: { replicas?: number } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${name}/scale`);
  return scale.spec.replicas ?? 0;
}

// The unit config's test/** glob sees this file too; there is no cluster there.
describe.runIf(inject('e2e') !== undefined).sequential('Hearth on the process-node cluster', () => {
  it('helm install hearth charts/hearth: controller, gateway and Redis pods become Ready as real processes', async () => {
    await tool('helm', [
      'install', 'hearth', 'charts/hearth', '--namespace', NS, '--create-namespace',
      // No storage provisioner on this cluster, so Redis keeps its data in an emptyDir.
      '--set', 'redis.bundled.persistence.enabled=false',
      '--wait', '--timeout', '4m',
    ]);
    for (const component of ['controller', 'gateway', 'redis']) {
      const ps = await until(`${component} pods Ready`, async () => {
        const list = await pods(NS, `app.kubernetes.io/component=${component}`);
        return list.length > 0 && list.every(isReady) ? list : undefined;
      }, 120_000);
      for (const p of ps) {
        expect(p.spec.nodeName).toBe(ctx().nodeName);
        const pid = containerPid(p.status.containerStatuses?.[0]);
        expect(pid, `${p.metadata.name} runs as a process`).toBeDefined();
        expect(cmdline(pid ?? 0)).toMatch(component === 'redis' ? /redis-server/ : new RegExp(`node .*dist/cli/main\\.js ${component}`));
      }
    }
  }, 300_000);

  it('kubectl apply -f examples/: the Functions become Ready', async () => {
    await kubectl('apply', '--namespace', NS, '-f', 'examples/');
    await until('every example Function Ready', async () => {
      const list = await api().get<{ items: FunctionView[] }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions`);
      const names = list.items.map((f) => f.metadata.name).sort();
      const ready = list.items.every((f) => f.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return names.join() === 'hello-go,hello-node,hello-python' && ready ? true : undefined;
    }, 120_000);
  }, 150_000);

  it('the gateway Service, by its cluster DNS name, returns the Lambda guide handler\'s answer from a pod', async () => {
    const res = await invoke('hello-python', { key: 'value' });
    const c = ctx();
    const now = Date.now();
    console.log(`[e2e] first Hello, world! ${((now - c.setupStartedAt) / 1000).toFixed(1)} s after setup began (${((now - c.clusterReadyAt) / 1000).toFixed(1)} s after the cluster was up)`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(JSON.parse(res.body)).toEqual({ statusCode: 200, body: '"Hello, world!"' });
    const fnPods = await pods(NS, 'hearth.dev/function=hello-python');
    expect(fnPods.some((p) => p.status.phase === 'Running' && p.spec.nodeName === c.nodeName)).toBe(true);
  }, 150_000);

  it('the Node.js example answers too', async () => {
    const res = await invoke('hello-node', { name: 'e2e' });
    expect(res.status).toBe(200);
    expect(res.body).toContain('Hello from Node.js, e2e!');
  }, 150_000);

  it('the Go example answers too', async () => {
    const res = await until('hello-go answering', async () => {
      const r = await invoke('hello-go', { name: 'e2e' }, { timeoutMs: 80_000 });
      return r.status === 200 ? r : undefined;
    }, 90_000, 2_000).catch((err: unknown) => {
      // Say why: the runtime container's own last words.
      throw new Error(`${String(err)}\n--- hello-go runtime output ---\n${containerLogTail('hello-go', 'runtime')}`);
    });
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(res.body).toContain('e2e');
  }, 120_000);

  it('an Event invocation goes through the chart\'s Redis and its record says succeeded', async () => {
    const res = await invoke('hello-python', { async: true }, { type: 'Event' });
    expect(res.status).toBe(202);
    const id = res.headers.get('x-amzn-requestid');
    expect(id).toBeTruthy();
    const record = await until('the Event record to say succeeded', async () => {
      const r = await gatewayFetch(`/invocations/${id ?? ''}`);
      if (r.status !== 200) return undefined;
      const body = (await r.json()) as { status: string };
      return body.status === 'succeeded' ? body : undefined;
    }, 60_000, 500);
    expect(record.status).toBe('succeeded');
  }, 90_000);

  it('a burst of parallel invocations scales up through the scale subresource, new pods serve, then back to minInstances', async () => {
    await applyPythonFunction('burst', { minInstances: 1, maxInstances: 4, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 0 });
    await until('burst at minInstances with a Ready pod', async () => {
      const ps = await pods(NS, 'hearth.dev/function=burst');
      return ps.length === 1 && ps.every(isReady) ? true : undefined;
    }, 120_000);
    const first = (await pods(NS, 'hearth.dev/function=burst'))[0]?.metadata.name;
    let maxReplicas = 1;
    const hosts = new Set<string>();
    // Waves of 8 one-second invocations until the new pods have answered some.
    for (let wave = 0; wave < 30 && !(hosts.size >= 2 && maxReplicas >= 2); wave++) {
      const results = await Promise.all(Array.from({ length: 8 }, (_, n) => invoke('burst', { sleep: 1, n })));
      for (const r of results) if (r.status === 200) hosts.add((JSON.parse(r.body) as { host: string }).host);
      maxReplicas = Math.max(maxReplicas, await functionReplicas('burst'));
    }
    expect(maxReplicas).toBeGreaterThan(1);
    expect([...hosts].filter((h) => h !== first).length, `pods other than ${first ?? ''} served: ${[...hosts].join(', ')}`).toBeGreaterThan(0);
    await until('burst back to minInstances', async () => ((await functionReplicas('burst')) === 1 ? true : undefined), 180_000, 1_000);
    await until('one burst pod left', async () => ((await pods(NS, 'hearth.dev/function=burst')).length === 1 ? true : undefined), 120_000, 1_000);
  }, 420_000);

  it('killing the runtime process mid-invocation gives the caller Runtime.ExitError and the container restarts', async () => {
    await applyPythonFunction('crashy', { minInstances: 1, maxInstances: 1 });
    const pod = await until('crashy Ready', async () => {
      const ps = await pods(NS, 'hearth.dev/function=crashy');
      return ps.length === 1 && ps.every(isReady) ? ps[0] : undefined;
    }, 120_000);
    const runtime = pod.status.containerStatuses?.find((s) => s.name === 'runtime');
    const pid = containerPid(runtime);
    expect(pid).toBeDefined();
    expect(cmdline(pid ?? 0)).toContain('bootstrap.py');
    const pending = invoke('crashy', { sleep: 20 });
    await sleep(1_500);
    process.kill(pid ?? 0, 'SIGKILL');
    const res = await pending;
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect((JSON.parse(res.body) as { errorType: string }).errorType).toBe('Runtime.ExitError');
    const after = await until('the runtime container restarted', async () => {
      const [p] = await pods(NS, 'hearth.dev/function=crashy');
      const s = p?.status.containerStatuses?.find((c) => c.name === 'runtime');
      return s !== undefined && s.restartCount >= 1 && s.state?.running !== undefined ? s : undefined;
    }, 60_000);
    expect(after.restartCount).toBeGreaterThan(runtime?.restartCount ?? 0);
    expect(after.lastState?.terminated?.exitCode).toBe(137);
    // And it serves again.
    const again = await until('crashy answering again', async () => {
      const r = await invoke('crashy', { n: 1 });
      return r.status === 200 && r.headers.get('x-amz-function-error') === null ? r : undefined;
    }, 60_000, 1_000);
    expect(JSON.parse(again.body)).toMatchObject({ n: 1 });
  }, 240_000);

  it('deleting the gateway pod while async events are queued loses none of them', async () => {
    await applyPythonFunction('queued', { minInstances: 1, maxInstances: 1 });
    await until('queued Ready', async () => {
      const ps = await pods(NS, 'hearth.dev/function=queued');
      return ps.length === 1 && ps.every(isReady) ? true : undefined;
    }, 120_000);
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) {
      const r = await invoke('queued', { sleep: 0.3, n }, { type: 'Event' });
      expect(r.status).toBe(202);
      ids.push(r.headers.get('x-amzn-requestid') ?? '');
    }
    const gateways: PodView[] = await pods(NS, 'app.kubernetes.io/component=gateway');
    await Promise.all(gateways.map((g) => kubectl('delete', 'pod', '--namespace', NS, g.metadata.name, '--wait=false')));
    await until('replacement gateway pods Ready', async () => {
      const ps = (await pods(NS, 'app.kubernetes.io/component=gateway')).filter((p) => !gateways.some((g) => g.metadata.uid === p.metadata.uid));
      return ps.length >= 1 && ps.some(isReady) ? true : undefined;
    }, 120_000);
    const statuses = await until('every queued event succeeded', async () => {
      const all = await Promise.all(ids.map(async (id) => {
        const r = await gatewayFetch(`/invocations/${id}`).catch(() => undefined);
        if (r?.status !== 200) return 'unknown';
        return ((await r.json()) as { status: string }).status;
      }));
      return all.every((s) => s === 'succeeded') ? all : undefined;
    }, 120_000, 1_000);
    expect(statuses).toHaveLength(20);
  }, 300_000);
  it('a schedule every 2 s fires 5 ± 1 times in 10 s with the chart\'s two gateway replicas, each tick once, and its next run time shows in the status', async () => {
    const gateways = await until('two gateway pods Ready', async () => {
      const ps = (await pods(NS, 'app.kubernetes.io/component=gateway')).filter((p) => p.metadata.deletionTimestamp === undefined);
      return ps.length === 2 && ps.every(isReady) ? ps : undefined;
    }, 120_000);
    await applyScheduledFunction('ticker', '*/2 * * * * *');
    // Warm: the pod is up and a first tick has run through the queue.
    await until('a first tick to run', async () => ((await printedTicks('ticker')).length > 0 ? true : undefined), 180_000, 500);
    const from = Date.now();
    const end = from + 10_000;
    await sleep(10_000);
    await until('the first tick after the window to run', async () => ((await printedTicks('ticker')).some((t) => Date.parse(t) >= end) ? true : undefined), 60_000, 500);
    const window = (await printedTicks('ticker')).filter((t) => Date.parse(t) >= from && Date.parse(t) < end);
    expect(new Set(window).size, `each tick once: ${window.join(', ')}`).toBe(window.length);
    expect(window.length).toBeGreaterThanOrEqual(4);
    expect(window.length).toBeLessThanOrEqual(6);

    // Both replicas fire; their counters add up to the runs, not to twice them.
    const before = await scheduleCounterSum('ticker', gateways);
    const runs = await until('every counted tick to run', async () => {
      const n = (await printedTicks('ticker')).length;
      return n >= before ? n : undefined;
    }, 60_000, 500);
    const after = await scheduleCounterSum('ticker', gateways);
    expect(runs).toBeLessThanOrEqual(after);

    const fn = await api().get<{ status?: { schedules?: { name: string; nextRunTime?: string }[] } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/ticker`);
    expect(fn.status?.schedules?.[0]?.name).toBe('tick');
    expect(Date.parse(fn.status?.schedules?.[0]?.nextRunTime ?? '') % 2000).toBe(0);
    await kubectl('delete', 'function', '--namespace', NS, 'ticker', '--wait=false');
  }, 300_000);
});
