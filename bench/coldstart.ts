// Cold starts on Kubernetes: on the process-node cluster (test/cluster/README.md),
// the chart installed as an operator would, hello-python (examples/) at zero
// instances is called through the gateway's Service by its cluster DNS name,
// as the e2e suite's client does; each call starts from zero (no pod of the
// function left, the gateway has seen them go) and is timed from send to
// answer. With the chart's warm pools (default) and with pools.enabled=false;
// beside those, Kubernetes alone: a plain one-container Deployment (python3 -m
// http.server, readiness probe every second, the shortest period the API
// allows) scaled from 0 to 1, until its pod is Ready. Without a pool, calls
// and plain starts take turns, so load on the machine falls on both alike.
// Where the time goes is read from watches (coldstart-timeline.ts).
//
// The cluster must run in a network namespace of its own: run from
// `npm run bench -- coldstart`, this module builds what the cluster needs,
// then re-executes itself inside `test/cluster/netns-run.sh` (which removes
// the namespace afterwards and fails on anything left behind) and reads the
// rows back from a file. Needs root, as the e2e suite does.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { parse } from 'yaml';
import { LABEL_CLAIMED, LABEL_POOL, LABEL_POOL_RUNTIME } from '../src/pools/labels.js';
import { AGENT_CONTAINER, RUNTIME_CONTAINER } from '../src/controller/resources/deployment.js';
import { LABEL_FUNCTION } from '../src/controller/resources/names.js';
import { KubeRest } from '../test/cluster/node/kube-rest.js';
import { repoRoot } from '../test/cluster/node/images.js';
import type { ProcessCluster } from '../test/cluster/process-cluster.js';
import { Timeline, milestones, podMilestones, type Milestone, type Obj, type Seen } from './coldstart-timeline.js';
import { clusterTool, measureInCluster, runInClusterNetns } from './cluster-netns.js';
import { summarize, type Row } from './report.js';
import { until as untilBounded } from '../test/helpers/wait.js';

const TRIALS = Number(process.env.BENCH_COLDSTART_TRIALS ?? 20);
const NS = 'hearth';
const PLAIN_NS = 'bench-plain';
const PLAIN = 'plain-http';
const FN = 'hello-python';
const POOL = 'python';
const GATEWAY = `http://hearth-gateway.${NS}.svc.cluster.local`;
const INVOKE_PATH = `/2015-03-31/functions/${FN}/invocations`;
/** After the last pod of the function is gone from the API: the gateway's informers have seen it long before. */
const SETTLE_MS = 1_000;

const log = (m: string): void => console.error(`[coldstart] ${m}`);

// ---------------------------------------------------------------- outside

export function benchColdStart(): Promise<Row[]> {
  return runInClusterNetns(fileURLToPath(import.meta.url), 'cold start on the process-node cluster');
}

// ---------------------------------------------------------------- inside

interface Ctx {
  cluster: ProcessCluster;
  rest: KubeRest;
  client: Client;
  key: string;
}

const tool = (c: ProcessCluster, name: 'helm' | 'kubectl', args: string[]): Promise<string> => clusterTool(c, name, args);

/** The cluster's waits here are longer and finer than the e2e suite's default. */
const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 180_000, everyMs = 100): Promise<T> => untilBounded(what, fn, timeoutMs, everyMs);

const isReady = (p: Obj): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function podsOf(rest: KubeRest, ns: string, selector: string): Promise<Obj[]> {
  return (await rest.get<{ items: Obj[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
}

/** One call through the gateway's Service on the kept-alive connection; throws unless it is the guide handler's answer. */
async function invoke(x: Ctx): Promise<void> {
  const res = await x.client.request({
    method: 'POST', path: INVOKE_PATH, body: '{"key":"value"}',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${x.key}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200 || !text.includes('Hello, world!') || res.headers['x-amz-function-error'] !== undefined) {
    throw new Error(`${FN} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  }
}

/** The client's connection to the gateway is open before the timer starts: a cold start is the function's, not the TCP handshake's. */
async function touch(x: Ctx): Promise<void> {
  const res = await x.client.request({ method: 'GET', path: '/healthz' });
  await res.body.dump();
}

/** No instance of the function: scale 0 written, its Deployment at 0, no pod of it left (claimed pool pods included). */
async function atZero(x: Ctx): Promise<void> {
  await until(`${FN} at zero with no pod left`, async () => {
    const fn = await x.rest.get<Obj>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`);
    if ((fn.spec?.replicas ?? 0) !== 0) return undefined;
    const deps = await x.rest.get<{ items: Obj[] }>(`/apis/apps/v1/namespaces/${NS}/deployments?labelSelector=${encodeURIComponent(`${LABEL_FUNCTION}=${FN}`)}`);
    if (deps.items.some((d) => (d.spec?.replicas ?? 0) !== 0)) return undefined;
    return (await podsOf(x.rest, NS, `${LABEL_FUNCTION}=${FN}`)).length === 0 ? true : undefined;
  });
}

async function poolPodReady(x: Ctx): Promise<void> {
  await until(`an idle Ready pod in WarmPool ${POOL}`, async () =>
    (await podsOf(x.rest, NS, `${LABEL_POOL}=${POOL}`)).some((p) => isReady(p) && p.metadata?.deletionTimestamp === undefined && p.status?.podIP !== undefined) ? true : undefined,
  );
}

function functionManifest(): object {
  const doc = parse(readFileSync(join(repoRoot, 'examples/hello-python.yaml'), 'utf8')) as { spec: Record<string, unknown> };
  // At zero between calls: the autoscaler takes the one instance away 6 s (its shortest window) after its call.
  return {
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: FN, namespace: NS },
    spec: { ...doc.spec, scaling: { minInstances: 0, maxInstances: 1, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 0 } },
  };
}

function plainManifest(): object {
  const labels = { app: PLAIN };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: PLAIN, namespace: PLAIN_NS, labels },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          automountServiceAccountToken: false,
          containers: [{
            name: 'server',
            // Any image the process node runs python3 from (test/cluster/node/images.ts).
            image: 'ghcr.io/hearth-dev/runtime-python:bench',
            command: ['python3', '-m', 'http.server', '8080', '--bind', '0.0.0.0', '--directory', '/tmp'],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1, timeoutSeconds: 1 },
            resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
          }],
        },
      },
    },
  };
}

const fnScaled: Milestone = { name: 'Function scale written (gateway)', test: (s) => s.kind === 'Function' && s.obj.metadata?.name === FN && (s.obj.spec?.replicas ?? 0) > 0 };
const deploymentScaled: Milestone = {
  name: 'Deployment scaled (Hearth controller)',
  test: (s) => s.kind === 'Deployment' && s.obj.metadata?.labels?.[LABEL_FUNCTION] === FN && (s.obj.spec?.replicas ?? 0) > 0,
};
const claimed: Milestone = {
  name: 'pool pod claimed (gateway relabelled it)',
  test: (s) => s.kind === 'Pod' && s.obj.metadata?.labels?.[LABEL_FUNCTION] === FN && s.obj.metadata.labels[LABEL_CLAIMED] === 'true',
};
// `claimed` too: with pools off it must never be seen (its row is left out when it is not).
const AGENT_RUNNING = `${AGENT_CONTAINER} running (node started it)`;
const NO_POOL_STEPS: Milestone[] = [fnScaled, deploymentScaled, ...podMilestones(LABEL_FUNCTION, FN, [AGENT_CONTAINER, RUNTIME_CONTAINER]), claimed];
const POOL_STEPS: Milestone[] = [claimed, fnScaled];
const PLAIN_STEPS: Milestone[] = podMilestones('app', PLAIN, ['server']);

class Steps {
  readonly samples = new Map<string, number[]>();
  add(m: Map<string, number>): void {
    for (const [k, v] of m) {
      if (!this.samples.has(k)) this.samples.set(k, []);
      if (Number.isFinite(v)) this.samples.get(k)?.push(v);
    }
  }
  rows(prefix: string, trials: number): Row[] {
    return [...this.samples].filter(([, v]) => v.length > 0).map(([k, v]) => summarize(`  ${prefix} ↳ ${k}`, v, { p95: true, note: v.length === trials ? '' : `seen in ${v.length} of ${trials}` }));
  }
}

/**
 * When the new pod's agent first listened, from its own log (the process node
 * keeps container output under the logs directory, named namespace_pod_uid):
 * what the API cannot show, between the agent running and the runtime's start
 * (the agent's postStart hook returns once it listens).
 */
function agentListening(x: Ctx, events: readonly Seen[], wallT0: number): number {
  const pod = events.find((e) => e.kind === 'Pod' && e.obj.metadata?.labels?.[LABEL_FUNCTION] === FN && e.obj.metadata.labels[LABEL_CLAIMED] === undefined)?.obj.metadata;
  if (pod?.name === undefined || pod.uid === undefined) return Number.NaN;
  try {
    const log = readFileSync(join(x.cluster.logsDir, 'pods', `${NS}_${pod.name}_${pod.uid}`, `${AGENT_CONTAINER}.log`), 'utf8');
    for (const line of log.split('\n')) {
      if (line.trim() === '') continue;
      const entry = JSON.parse(line) as { time?: number; msg?: string };
      if (entry.msg === 'agent ready for its runtime' && entry.time !== undefined) return entry.time - wallT0;
    }
  } catch {
    // no log (yet), or a line that is not JSON: the step is left out of this trial
  }
  return Number.NaN;
}

async function timedColdStart(x: Ctx, timeline: Timeline, steps: Steps, list: Milestone[]): Promise<number> {
  await atZero(x);
  await sleep(SETTLE_MS);
  await touch(x);
  timeline.reset();
  const wallT0 = Date.now();
  const t0 = performance.now();
  const wall = new Date(wallT0).toISOString();
  await invoke(x);
  const ms = performance.now() - t0;
  // The send's wall-clock time, to line the trial up with the node's and the gateway's logs.
  log(`  sent at ${wall}: ${ms.toFixed(1)} ms`);
  // Status writes after the answer (pod Ready) are part of the breakdown too.
  await sleep(1_500);
  const seen = milestones(timeline.seen(), t0, list);
  if (list === NO_POOL_STEPS) {
    // In order: right after the agent runs.
    const ordered = new Map<string, number>();
    for (const [k, v] of seen) {
      ordered.set(k, v);
      if (k === AGENT_RUNNING) ordered.set('agent listening (its own log)', agentListening(x, timeline.seen(), wallT0));
    }
    steps.add(ordered);
  } else steps.add(seen);
  return ms;
}

async function plainStart(x: Ctx, timeline: Timeline, steps: Steps): Promise<number> {
  const scale = (replicas: number) => x.rest.mergePatch(`/apis/apps/v1/namespaces/${PLAIN_NS}/deployments/${PLAIN}/scale`, { spec: { replicas } });
  await until(`${PLAIN} at zero`, async () => ((await podsOf(x.rest, PLAIN_NS, `app=${PLAIN}`)).length === 0 ? true : undefined));
  timeline.reset();
  const t0 = performance.now();
  await scale(1);
  const readyStep = PLAIN_STEPS[PLAIN_STEPS.length - 1] as Milestone;
  const ms = await until(`${PLAIN} Ready`, async () => {
    const v = milestones(timeline.seen(), t0, [readyStep]).get(readyStep.name) ?? Number.NaN;
    return Number.isFinite(v) ? v : undefined;
  }, 60_000, 5);
  steps.add(milestones(timeline.seen(), t0, PLAIN_STEPS));
  await scale(0);
  return ms;
}

async function measure(cluster: ProcessCluster): Promise<Row[]> {
  const rest = new KubeRest(cluster.server, cluster.token, cluster.caPem);
  const client = new Client(GATEWAY, { keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const timelines: Timeline[] = [];
  try {
    log('helm install (pools on, the chart default)');
    await tool(cluster, 'helm', ['install', 'hearth', 'charts/hearth', '--namespace', NS, '--create-namespace', '--set', 'redis.bundled.persistence.enabled=false', '--wait', '--timeout', '6m']);
    const secret = await rest.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${NS}/secrets/hearth-gateway-auth`);
    const x: Ctx = { cluster, rest, client, key: Buffer.from(secret.data['api-key'] ?? '', 'base64').toString('utf8') };
    await rest.call('POST', `/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions`, functionManifest());
    await rest.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PLAIN_NS } });
    await rest.call('POST', `/apis/apps/v1/namespaces/${PLAIN_NS}/deployments`, plainManifest());
    const fnTimeline = new Timeline(rest, NS);
    const plainTimeline = new Timeline(rest, PLAIN_NS, ['ReplicaSet', 'Pod']);
    timelines.push(fnTimeline, plainTimeline);
    await fnTimeline.start();
    await plainTimeline.start();
    await poolPodReady(x);
    // Untimed: proves the whole path answers before anything is timed.
    log(`${FN}: first call (untimed)`);
    await until(`${FN} answering through the gateway`, async () => {
      await invoke(x);
      return true;
    }, 180_000, 1_000);

    const loadAtStart = loadavg()[0] ?? Number.NaN;
    const pooled: number[] = [];
    const poolSteps = new Steps();
    for (let i = 0; i < TRIALS; i++) {
      await poolPodReady(x);
      pooled.push(await timedColdStart(x, fnTimeline, poolSteps, POOL_STEPS));
      log(`pools on, cold start ${i + 1}/${TRIALS}: ${(pooled.at(-1) ?? 0).toFixed(1)} ms`);
    }
    const fromPool = poolSteps.samples.get(claimed.name)?.length ?? 0;

    log('helm upgrade --set pools.enabled=false');
    await tool(cluster, 'helm', ['upgrade', 'hearth', 'charts/hearth', '--namespace', NS, '--reuse-values', '--set', 'pools.enabled=false', '--wait', '--timeout', '6m']);
    await until('no pool pod left', async () => ((await podsOf(x.rest, NS, LABEL_POOL_RUNTIME)).length === 0 ? true : undefined));
    const unpooled: number[] = [];
    const plain: number[] = [];
    const podSteps = new Steps();
    const plainSteps = new Steps();
    for (let i = 0; i < TRIALS; i++) {
      unpooled.push(await timedColdStart(x, fnTimeline, podSteps, NO_POOL_STEPS));
      plain.push(await plainStart(x, plainTimeline, plainSteps));
      log(`pools off, cold start ${i + 1}/${TRIALS}: ${(unpooled.at(-1) ?? 0).toFixed(1)} ms; plain Deployment 0 → 1 Ready: ${(plain.at(-1) ?? 0).toFixed(1)} ms`);
    }
    const claimedWithoutPool = podSteps.samples.get(claimed.name)?.length ?? 0;
    const load = `machine load average (1 min) ${loadAtStart.toFixed(1)} when the timed calls began, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at their end`;
    return [
      summarize('pools on: call at zero → answer, through the gateway Service', pooled, {
        p95: true, note: `${TRIALS} cold starts, each from no pod of the function, an idle pool pod Ready; ${fromPool} of ${TRIALS} claimed a pool pod; ${load}`,
      }),
      ...poolSteps.rows('pool', TRIALS),
      summarize('pools off: call at zero → answer, through the gateway Service', unpooled, {
        p95: true, note: `${TRIALS} cold starts, each a new pod from the function's Deployment${claimedWithoutPool > 0 ? ` (${claimedWithoutPool} claimed a pod?!)` : ''}`,
      }),
      ...podSteps.rows('no pool', TRIALS),
      summarize('baseline: plain Deployment 0 → 1 Ready (Kubernetes alone)', plain, {
        p95: true, note: `${TRIALS} scale-ups taking turns with the row above; python3 -m http.server, readiness httpGet every 1 s`,
      }),
      ...plainSteps.rows('plain', TRIALS),
    ];
  } finally {
    for (const t of timelines) await t.stop();
    await client.close();
    await rest.close();
  }
}

const inside = (out: string): Promise<void> => measureInCluster(out, measure, log);

if (process.argv[2] === '--inside' && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[3];
  if (out === undefined) throw new Error('usage: coldstart.ts --inside RESULT.json');
  await inside(out);
}
