// A real cluster on one machine whose only stand-in is the node: the control
// plane (with kwok's fake node beside it), the process node (pods as local
// processes in their own network namespaces on a bridge), kube-proxy in
// iptables mode and CoreDNS with the kubernetes plugin. Must run inside a
// network namespace the caller made (netns-run.sh): it adds a bridge, routes
// and NAT rules, which must never reach the machine's own namespace.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { ensureBinaries } from './binaries.js';
import { caAgent, probe } from './http.js';
import { repoRoot } from './node/images.js';
import { gatewayIp, setupBridge } from './node/network.js';
import type { ProcessNodeConfig } from './node/main.js';
import { freeLoopbackPorts } from './ports.js';
import { NODE_STATE_ROOT, clean, leftoversOf, nodeCgroupName, nodeWorkDir as runWorkDir, runIdOf } from './leaks.js';
import { startComponent, stopPid, tailLog, type Component } from './processes.js';

export const NODE_NAME = 'hearth-node';
export const POD_CIDR = '10.244.0.0/24';
export const BRIDGE = 'hearth0';
export const SERVICE_RANGE = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const CLUSTER_DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
/** Like /var/lib/kubelet: not under /tmp, which pods mount emptyDirs over. */
export { NODE_STATE_ROOT };
/** Taint on kwok's fake nodes; pods of a scale benchmark tolerate it to land there. */
export const FAKE_NODE_TAINT = 'hearth.dev/fake-node';

async function fakeNodeNames(api: (path: string) => Promise<{ status: number; body: string }>): Promise<string[]> {
  const r = await api('/api/v1/nodes?labelSelector=type%3Dkwok');
  if (r.status !== 200) throw new Error(`listing fake nodes: ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name);
}

export interface ProcessClusterOptions {
  workDir?: string;
  detached?: boolean;
  log?: (m: string) => void;
  /** CrashLoopBackOff base (kubelet: 10 s). */
  backoffBaseMs?: number;
}

export interface ProcessCluster {
  controlPlane: ControlPlane;
  kubeconfigPath: string;
  server: string;
  token: string;
  caPem: string;
  binDir: string;
  workDir: string;
  logsDir: string;
  /** `<netns>.<pid>`: names the node's cgroup, work directory and pod holders (leaks.ts). */
  runId: string;
  /** The node's memory cgroup name under /sys/fs/cgroup/memory. */
  cgroupName: string;
  nodeName: string;
  /** The node's pod directories; gone after stop(). */
  nodeWorkDir: string;
  pids: Record<string, number>;
  /**
   * Stops the node, then the rest. Returns what the node's own teardown left
   * of this run (one line each; removed by now): empty when it was complete.
   */
  stop(opts?: { keepLogs?: boolean }): Promise<string[]>;
}

/** What run runId still has on the machine, removed; a line per leftover. */
export async function sweepRun(runId: string): Promise<string[]> {
  return clean(leftoversOf({ runId }));
}

/** True inside the namespace netns-run.sh made (it exports HEARTH_NETNS). */
function inOwnNetns(): boolean {
  const name = process.env.HEARTH_NETNS;
  if (name === undefined || name === '') return false;
  try {
    return statSync('/proc/self/ns/net').ino === statSync(`/run/netns/${name}`).ino;
  } catch {
    return false;
  }
}

/** Debian package of each machine tool the cluster needs, so a missing one is named with its fix. */
const TOOLS: Record<string, string> = {
  ip: 'iproute2', iptables: 'iptables', nft: 'nftables', conntrack: 'conntrack',
  nsenter: 'util-linux', unshare: 'util-linux', setpriv: 'util-linux', mount: 'mount', bwrap: 'bubblewrap', 'redis-server': 'redis-server',
};

function missingTools(): string[] {
  return Object.entries(TOOLS)
    .filter(([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0)
    .map(([tool, pkg]) => `${tool} (Debian package ${pkg})`);
}

/**
 * CoreDNS is built by build-coredns.sh before entering the namespace (the Makefile
 * does it): inside, there is no route to the Go module proxy.
 */
function ensureCoreDns(binDir: string): void {
  if (!existsSync(join(binDir, 'coredns'))) {
    throw new Error(`${join(binDir, 'coredns')} is missing: run test/cluster/build-coredns.sh outside the cluster's namespace (make cluster-up and make e2e-local do)`);
  }
}

async function waitUntil(what: string, watch: Component[], deadline: number, check: () => Promise<boolean>): Promise<void> {
  while (Date.now() < deadline) {
    const dead = watch.find((c) => c.exit !== undefined);
    if (dead !== undefined) throw new Error(`${dead.name} exited while waiting for ${what}\n${await tailLog(dead.logFile)}`);
    if (await check()) return;
    await sleep(250);
  }
  const tails = await Promise.all(watch.map(async (c) => `--- ${c.name} ---\n${await tailLog(c.logFile, 15)}`));
  throw new Error(`timed out waiting for ${what}\n${tails.join('\n')}`);
}

export async function startProcessCluster(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  if (!inOwnNetns()) throw new Error('the process-node cluster must run inside its own network namespace (test/cluster/netns-run.sh)');
  const missing = missingTools();
  if (missing.length > 0) throw new Error(`the process-node cluster needs ${missing.join(', ')}`);
  const log = opts.log ?? ((): void => undefined);
  const began = Date.now();
  const built = await ensureBinaries();
  if (!built.ok) throw new Error(`cannot build the control plane: ${built.reason}`);
  const binDir = built.binDir;
  ensureCoreDns(binDir);
  const ownWorkDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'hearth-e2e-')));
  await mkdir(workDir, { recursive: true });
  const hostIp = gatewayIp(POD_CIDR);
  // The advertise address must exist before the API server writes it into the kubernetes Service's endpoints.
  await setupBridge({ bridge: BRIDGE, podCidr: POD_CIDR });
  await runTool('ip', ['link', 'set', 'lo', 'up']);
  // Local clients (the test runner, kubectl, curl) need a route to ClusterIPs before
  // kube-proxy's OUTPUT rules can rewrite them; a node has its default route for this.
  await runTool('ip', ['route', 'replace', SERVICE_RANGE, 'dev', BRIDGE, 'src', hostIp]);

  const cp = await startControlPlane({
    binDir,
    workDir: join(workDir, 'control-plane'),
    detached: opts.detached ?? false,
    advertiseAddress: hostIp,
    bindAddress: '0.0.0.0',
    endpointReconciler: 'lease',
    serviceClusterIpRange: SERVICE_RANGE,
    log,
  });
  const logsDir = cp.logsDir;
  const components: Component[] = [];
  const runId = runIdOf(process.env.HEARTH_NETNS ?? '', process.pid);
  const cgroupName = nodeCgroupName(runId);
  const nodeWorkDir = runWorkDir(runId);
  const stop = async (s: { keepLogs?: boolean } = {}): Promise<string[]> => {
    // The node first, so its pods get their SIGTERM while the API server still answers.
    for (const c of [...components].reverse()) await stopPid(c.pid, 30_000);
    const left = await sweepRun(runId);
    await cp.stop(s);
    // A work directory it made itself goes too (the control plane's holds the logs, kept or not as asked).
    if (ownWorkDir && s.keepLogs !== true) await rm(workDir, { recursive: true, force: true });
    return left;
  };
  try {
    const apiAgent = caAgent(cp.caPem);
    const api = (path: string, method: 'GET' | 'POST' = 'GET', body?: unknown) => probe(`${cp.server}${path}`, { agent: apiAgent, token: cp.token, method, body });
    const deadline = Date.now() + 120_000;

    const nodeCfg: ProcessNodeConfig = {
      server: cp.server,
      token: cp.token,
      caPem: cp.caPem,
      nodeName: NODE_NAME,
      nodeIp: hostIp,
      podCidr: POD_CIDR,
      bridge: BRIDGE,
      workDir: nodeWorkDir,
      podLogsDir: join(logsDir, 'pods'),
      clusterDns: CLUSTER_DNS_IP,
      clusterDomain: CLUSTER_DOMAIN,
      kubernetesServiceHost: KUBERNETES_SERVICE_IP,
      cgroupName,
      runId,
      ...(opts.backoffBaseMs === undefined ? {} : { backoffBaseMs: opts.backoffBaseMs }),
    };
    const cfgPath = join(workDir, 'process-node.json');
    await writeFile(cfgPath, JSON.stringify(nodeCfg), { mode: 0o600 });
    // An absolute loader URL, so the node starts whatever the caller's working directory.
    const tsxLoader = pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;
    const node = startComponent('process-node', process.execPath, ['--import', tsxLoader, join(repoRoot, 'test/cluster/node/main.ts'), cfgPath], logsDir, opts.detached ?? false);
    components.push(node);
    await waitUntil(`node ${NODE_NAME} Ready and untainted`, components, deadline, async () => {
      const r = await api(`/api/v1/nodes/${NODE_NAME}`);
      if (r.status !== 200) return false;
      const n = JSON.parse(r.body) as { spec?: { taints?: { key: string }[] }; status?: { conditions?: { type: string; status: string }[] } };
      return (n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false) && !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    });
    log(`process node ${NODE_NAME} Ready (${Date.now() - began} ms)`);
    // kwok's fake node stays for scale benchmarks, but only pods that tolerate it land there:
    // everything else must really run.
    for (const name of await fakeNodeNames(api)) {
      const r = await probe(`${cp.server}/api/v1/nodes/${name}`, {
        agent: apiAgent, token: cp.token, method: 'PATCH', contentType: 'application/merge-patch+json',
        body: { spec: { taints: [{ key: FAKE_NODE_TAINT, value: 'true', effect: 'NoSchedule' }] } },
      });
      if (r.status !== 200) throw new Error(`tainting fake node ${name}: ${r.status} ${r.body}`);
    }

    const [proxyHealth, proxyMetrics, dnsHealth, dnsReady] = await freeLoopbackPorts(4);
    const proxy = startComponent('kube-proxy', join(binDir, 'kube-proxy'), [
      `--kubeconfig=${cp.kubeconfigPath}`,
      `--hostname-override=${NODE_NAME}`,
      '--proxy-mode=iptables',
      `--cluster-cidr=10.244.0.0/16`,
      // Replies from a Service's pod must come back through this namespace to be un-NATed: there is no br_netfilter here.
      '--masquerade-all',
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0s',
      '--conntrack-tcp-timeout-close-wait=0s',
      `--healthz-bind-address=127.0.0.1:${String(proxyHealth)}`,
      `--metrics-bind-address=127.0.0.1:${String(proxyMetrics)}`,
    ], logsDir, opts.detached ?? false);
    components.push(proxy);

    // The DNS Service points at CoreDNS on the node's address, as a hostNetwork DNS would.
    const svc = await api('/api/v1/namespaces/kube-system/services', 'POST', {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
      spec: { clusterIP: CLUSTER_DNS_IP, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] },
    });
    if (svc.status !== 201) throw new Error(`creating kube-dns Service: ${svc.status} ${svc.body}`);
    const slice = await api('/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', 'POST', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'kube-dns-node', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'hearth-harness' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [hostIp], conditions: { ready: true }, nodeName: NODE_NAME }],
      ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }],
    });
    if (slice.status !== 201) throw new Error(`creating kube-dns EndpointSlice: ${slice.status} ${slice.body}`);
    const corefile = join(workDir, 'Corefile');
    await writeFile(corefile, [
      `.:53 {`,
      `  bind ${hostIp}`,
      `  errors`,
      `  health 127.0.0.1:${String(dnsHealth)}`,
      `  ready 127.0.0.1:${String(dnsReady)}`,
      `  kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
      `    kubeconfig ${cp.kubeconfigPath} hearth-test`,
      `    pods insecure`,
      `    fallthrough in-addr.arpa ip6.arpa`,
      `  }`,
      `  cache 5`,
      `}`,
      '',
    ].join('\n'));
    const dns = startComponent('coredns', join(binDir, 'coredns'), ['-conf', corefile], logsDir, opts.detached ?? false);
    components.push(dns);
    const healthAgent = caAgent(cp.caPem);
    await waitUntil('kube-proxy /healthz and CoreDNS /ready', components, deadline, async () => {
      const p = await probe(`http://127.0.0.1:${String(proxyHealth)}/healthz`, { agent: healthAgent });
      const d = await probe(`http://127.0.0.1:${String(dnsReady)}/ready`, { agent: healthAgent });
      return p.status === 200 && d.status === 200;
    });
    log(`kube-proxy and CoreDNS ready (${Date.now() - began} ms)`);
    const pids = { ...cp.pids, ...Object.fromEntries(components.map((c) => [c.name, c.pid])) };
    return {
      controlPlane: cp, kubeconfigPath: cp.kubeconfigPath, server: cp.server, token: cp.token, caPem: cp.caPem,
      binDir, workDir, logsDir, runId, cgroupName, nodeName: NODE_NAME, nodeWorkDir, pids, stop,
    };
  } catch (err) {
    await stop({ keepLogs: true });
    throw err;
  }
}

function runTool(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'inherit' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${String(code)}`))));
  });
}
