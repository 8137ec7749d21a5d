// Warm invocation on Kubernetes: on the process-node cluster
// (test/cluster/README.md), the chart installed as an operator would,
// hello-python (examples/) kept at one warm instance is called through the
// gateway's Service by its cluster DNS name, as the e2e suite's client does.
// Beside it, in the same run and with the same client (one keep-alive
// connection, sequential calls after warm-ups): the same call straight to a
// gateway pod's IP (so the Service hop shows on its own) and straight to the
// function pod's agent on its pod IP (the agent's invoke endpoint, what the
// gateway itself calls), so the gateway's own share shows too. The targets
// take turns in rounds, so load from the four other users of this machine
// falls on every row alike.
//
// The cluster must run in a network namespace of its own: run from
// `npm run bench -- cluster`, this module builds what the cluster needs,
// then re-executes itself inside `test/cluster/netns-run.sh` (which removes
// the namespace afterwards and fails on anything left behind) and reads the
// rows back from a file. Needs root, as the e2e suite does.
//
// While working on the path, `--attach` measures a cluster that is already
// up (`make cluster-up`, Hearth installed or not) without tearing it down:
//   test/cluster/netns-run.sh --exec hearth-dev -- npx tsx bench/cluster-warm.ts --attach
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { parse } from 'yaml';
import { INVOKE_PATH as AGENT_INVOKE_PATH } from '../src/agent/invoke-headers.js';
import { AGENT_PORT, LABEL_FUNCTION } from '../src/controller/resources/names.js';
import { KubeRest } from '../test/cluster/node/kube-rest.js';
import { repoRoot } from '../test/cluster/node/images.js';
import { until as untilBounded } from '../test/helpers/wait.js';
import { cpuMicros } from './process-cpu.js';
import { clusterTool, measureInCluster, runInClusterNetns } from './cluster-netns.js';
import { summarize, type Row } from './report.js';

// Calls per target before any is timed. A few thousand: the gateways' code runs in V8's optimising tiers only
// after that; with 200 the timed calls still paid for the compiler (2,000 timed calls after 200: p50 1.07-1.09 ms and
// 570-685 µs of gateway CPU a call; after 40,000: 0.94-0.98 ms and 440-490 µs, 2026-12-07). A gateway in service has long
// served that many; what is measured is the warm call, not the gateway's first minute.
const WARMUP = Number(process.env.BENCH_CLUSTER_WARMUP ?? 3000);
/** Calls per target in all; split into ROUNDS turns. */
const CALLS = Number(process.env.BENCH_CLUSTER_CALLS ?? 2000);
const ROUNDS = 4;
const NS = 'hearth';
const FN = 'hello-python';
const SERVICE = `http://hearth-gateway.${NS}.svc.cluster.local`;
const GATEWAY_PORT = 8080;
const INVOKE_PATH = `/2015-03-31/functions/${FN}/invocations`;
const PAYLOAD = '{"key":"value"}';

const log = (m: string): void => console.error(`[cluster-warm] ${m}`);

// ---------------------------------------------------------------- outside

export function benchClusterWarm(): Promise<Row[]> {
  return runInClusterNetns(fileURLToPath(import.meta.url), 'warm invocation on the process-node cluster');
}

// ---------------------------------------------------------------- inside

interface Cluster {
  server: string;
  token: string;
  caPem: string;
  binDir: string;
  kubeconfigPath: string;
}

type Obj = {
  metadata?: { name?: string; deletionTimestamp?: string };
  status?: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; containerID?: string }[] };
};

/** A pod to time: its IP and the pid of each container's main process (the process node's containerID is process://PID). */
interface PodProcs {
  ip: string;
  pids: Record<string, number>;
}

const tool = (c: Cluster, name: 'helm' | 'kubectl', args: string[]): Promise<string> => clusterTool(c, name, args);

const until = <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => untilBounded(what, fn, 300_000, 250);

const isReady = (p: Obj): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function readyPods(rest: KubeRest, selector: string): Promise<PodProcs[]> {
  const list = await rest.get<{ items: Obj[] }>(`/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(selector)}`);
  return list.items
    .filter((p) => isReady(p) && p.metadata?.deletionTimestamp === undefined && p.status?.podIP !== undefined)
    .map((p) => {
      const pids: Record<string, number> = {};
      for (const c of p.status?.containerStatuses ?? []) {
        const m = /^process:\/\/(\d+)$/.exec(c.containerID ?? '');
        if (m?.[1] !== undefined) pids[c.name] = Number(m[1]);
      }
      return { ip: p.status?.podIP ?? '', pids };
    });
}

/** The processes whose CPU each row reports per call: every gateway pod's, the function pod's agent and runtime. */
type Procs = Record<'gateway' | 'agent' | 'runtime', number[]>;

function cpuOf(procs: Procs): Record<keyof Procs, number> {
  const sum = (pids: number[]): number => cpuMicros(pids) / 1000;
  return { gateway: sum(procs.gateway), agent: sum(procs.agent), runtime: sum(procs.runtime) };
}

/** One warm instance, kept: the autoscaler never takes it away during the run. */
function functionManifest(): object {
  const doc = parse(readFileSync(join(repoRoot, 'examples/hello-python.yaml'), 'utf8')) as { spec: Record<string, unknown> };
  return {
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: FN, namespace: NS },
    spec: { ...doc.spec, scaling: { minInstances: 1, maxInstances: 1 } },
  };
}

interface Target {
  name: string;
  note: string;
  client: Client;
  path: string;
  headers: Record<string, string>;
  samples: number[];
  /** CPU ms the pods' processes used while this target's samples ran. */
  cpu: Record<keyof Procs, number>;
  /** Connections the client opened: 1 means every call reused the first. */
  connects: number;
}

function target(name: string, origin: string, path: string, headers: Record<string, string>, note: string): Target {
  // One connection, kept alive for the whole run: the client's settings of bench/gateway.ts.
  const client = new Client(origin, { pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 });
  const t: Target = { name, note, client, path, headers: { 'content-type': 'application/json', ...headers }, samples: [], cpu: { gateway: 0, agent: 0, runtime: 0 }, connects: 0 };
  client.on('connect', () => t.connects++);
  return t;
}

async function call(t: Target): Promise<void> {
  const res = await t.client.request({ method: 'POST', path: t.path, body: PAYLOAD, headers: t.headers });
  const text = await res.body.text();
  if (res.statusCode !== 200 || !text.includes('Hello, world!') || res.headers['x-amz-function-error'] !== undefined) {
    throw new Error(`${t.name}: ${FN} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  }
}

async function installed(c: Cluster): Promise<boolean> {
  return tool(c, 'helm', ['status', 'hearth', '--namespace', NS]).then(() => true, () => false);
}

async function measure(c: Cluster): Promise<Row[]> {
  const rest = new KubeRest(c.server, c.token, c.caPem);
  const targets: Target[] = [];
  try {
    if (!(await installed(c))) {
      // Pools off: a warm call never touches them, and their idle pods would only add load to the machine.
      log('helm install (pools off)');
      await tool(c, 'helm', ['install', 'hearth', 'charts/hearth', '--namespace', NS, '--create-namespace', '--set', 'redis.bundled.persistence.enabled=false', '--set', 'pools.enabled=false', '--wait', '--timeout', '6m']);
    }
    const secret = await rest.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${NS}/secrets/hearth-gateway-auth`);
    const auth = { authorization: `Bearer ${Buffer.from(secret.data['api-key'] ?? '', 'base64').toString('utf8')}` };
    if ((await rest.getOrUndefined(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`)) === undefined) {
      await rest.call('POST', `/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions`, functionManifest());
    }
    const fnPod = await until(`a Ready pod of ${FN}`, async () => (await readyPods(rest, `${LABEL_FUNCTION}=${FN}`))[0]);
    const gateways = await until('Ready gateway pods', async () => {
      const pods = await readyPods(rest, 'app.kubernetes.io/component=gateway');
      return pods.length > 0 ? pods : undefined;
    });
    const clusterIp = (await rest.get<{ spec: { clusterIP: string; ports: { port: number }[] } }>(`/api/v1/namespaces/${NS}/services/hearth-gateway`)).spec;
    const procs: Procs = {
      gateway: gateways.flatMap((g) => Object.values(g.pids)),
      agent: fnPod.pids.agent === undefined ? [] : [fnPod.pids.agent],
      runtime: fnPod.pids.runtime === undefined ? [] : [fnPod.pids.runtime],
    };
    const service = target('through the gateway Service (cluster DNS name)', SERVICE, INVOKE_PATH, auth, 'the e2e client\'s path: ClusterIP by kube-proxy\'s iptables rules, then a gateway pod');
    // Untimed: proves the whole path answers before anything is timed.
    await until(`${FN} answering through the gateway Service`, async () => {
      await call(service);
      return true;
    });
    targets.push(
      service,
      target('through the gateway Service\'s ClusterIP', `http://${clusterIp.clusterIP}:${clusterIp.ports[0]?.port ?? 80}`, INVOKE_PATH, auth, 'the same without the name'),
      ...gateways.map((g, i) => target(`baseline: straight to gateway pod ${i + 1}'s IP`, `http://${g.ip}:${GATEWAY_PORT}`, INVOKE_PATH, auth, `${g.ip}:${GATEWAY_PORT}, no Service hop`)),
      target('baseline: straight to the function pod\'s agent', `http://${fnPod.ip}:${AGENT_PORT}`, AGENT_INVOKE_PATH, {}, `${fnPod.ip}:${AGENT_PORT}, the call the gateway makes`),
    );
    for (const t of targets) for (let i = 0; i < WARMUP; i++) await call(t);
    const loadAtStart = loadavg()[0] ?? Number.NaN;
    const perRound = Math.ceil(CALLS / ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of targets) {
        const before = cpuOf(procs);
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await call(t);
          t.samples.push(performance.now() - t0);
        }
        const after = cpuOf(procs);
        for (const k of ['gateway', 'agent', 'runtime'] as const) t.cpu[k] += after[k] - before[k];
      }
    }
    const load = `load average (1 min) ${loadAtStart.toFixed(1)} → ${(loadavg()[0] ?? Number.NaN).toFixed(1)}`;
    // CPU per call of each process (clock ticks of 10 ms over 2,000 calls): where the time goes when the machine is busy.
    const perCall = (t: Target): string => (['gateway', 'agent', 'runtime'] as const).map((k) => `${k} ${Math.round((t.cpu[k] / t.samples.length) * 1000)}`).join(', ');
    return targets.map((t, i) => summarize(t.name, t.samples, {
      note: `${t.note}; ${t.samples.length} calls on ${t.connects} connection(s); CPU µs/call: ${perCall(t)}${i === 0 ? `; ${ROUNDS} rounds taking turns with the rows below; ${load}` : ''}`,
    }));
  } finally {
    for (const t of targets) await t.client.close();
    await rest.close();
  }
}

const inside = (out: string): Promise<void> => measureInCluster(out, measure, log);

/** A cluster `make cluster-up` left running: its state file, and the token and CA from its kubeconfig. */
function attached(): Cluster {
  const stateDir = resolve(process.env.HEARTH_CLUSTER_STATE_DIR ?? join(repoRoot, '.cache', 'process-cluster'));
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { kubeconfigPath: string; server: string; binDir: string };
  const kc = parse(readFileSync(state.kubeconfigPath, 'utf8')) as { clusters: { cluster: { 'certificate-authority-data': string } }[]; users: { user: { token: string } }[] };
  const ca = kc.clusters[0]?.cluster['certificate-authority-data'] ?? '';
  return { server: state.server, token: kc.users[0]?.user.token ?? '', caPem: Buffer.from(ca, 'base64').toString('utf8'), binDir: state.binDir, kubeconfigPath: state.kubeconfigPath };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  if (process.argv[2] === '--inside') {
    const out = process.argv[3];
    if (out === undefined) throw new Error('usage: cluster-warm.ts --inside RESULT.json');
    await inside(out);
  } else if (process.argv[2] === '--attach') {
    const { formatTable } = await import('./report.js');
    console.log(formatTable('Warm invocation on the process-node cluster (attached)', await measure(attached())));
  }
}
