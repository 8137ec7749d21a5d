import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from 'undici';
import { ensureBinaries } from './binaries.js';
import { caAgent, probe, selfSignedAgent } from './http.js';
import { writeKubeconfig } from './kubeconfig.js';
import { makePki } from './pki.js';
import { freeLoopbackPorts } from './ports.js';
import { startComponent, stopControlPlanePids, tailLog, type Component } from './processes.js';

export interface ControlPlaneOptions {
  /** Directory holding etcd, kube-apiserver, …; default: build (if needed) into the cache. */
  binDir?: string;
  /** Where pki/, data/, logs/ and kubeconfig go; default: a new temp dir. */
  workDir?: string;
  /** Leave the processes running after this Node process exits (cluster-up). */
  detached?: boolean;
  /** Fake nodes kwok keeps Ready, so pods schedule and run. */
  fakeNodes?: number;
  /**
   * Address the API server advertises. With the endpoint reconciler off
   * nothing is ever written to the `kubernetes` Service's endpoints, so a
   * loopback address is accepted and no address is needed on the host.
   */
  advertiseAddress?: string;
  serviceClusterIpRange?: string;
  /**
   * Address kube-apiserver listens on (default 127.0.0.1). The process-node
   * cluster binds 0.0.0.0 inside its own network namespace so pods reach it.
   */
  bindAddress?: string;
  /**
   * 'lease' makes the API server keep the `kubernetes` Service's endpoints
   * (needs a non-loopback advertiseAddress); default 'none'.
   */
  endpointReconciler?: 'none' | 'lease';
  /** Fake pod IPs kwok records in pod status; never configured on the host. */
  podCidr?: string;
  startTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface ControlPlane {
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of a system:masters user. */
  token: string;
  /** PEM of the CA that signed the API server's certificate. */
  caPem: string;
  workDir: string;
  logsDir: string;
  binDir: string;
  pids: Record<string, number>;
  /** Stops every component; removes workDir unless keepLogs, which keeps logs/ (and removes the rest). */
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

export class ControlPlaneStartError extends Error {
  constructor(
    message: string,
    readonly component: string | undefined,
    readonly logsDir: string | undefined,
  ) {
    super(message);
    this.name = 'ControlPlaneStartError';
  }
}

const fakeNodeAnnotation = 'kwok.x-k8s.io/node';

interface Poll {
  what: string;
  /** Whose log explains a time-out. */
  component: Component;
  /** Components whose exit fails the wait at once (default: just component). */
  watch?: Component[];
  deadline: number;
  check: () => Promise<boolean>;
}

/** Polls until check() holds; stops early, with the dead component's log tail, if a watched component exits. */
async function waitFor(p: Poll): Promise<void> {
  const watched = p.watch ?? [p.component];
  while (Date.now() < p.deadline) {
    const dead = watched.find((c) => c.exit !== undefined);
    if (dead?.exit !== undefined) {
      const { code, signal } = dead.exit;
      throw new ControlPlaneStartError(
        `${dead.name} exited (code ${String(code)}, signal ${String(signal)}) while waiting for ${p.what}\n` +
          `--- last lines of ${dead.logFile} ---\n${await tailLog(dead.logFile)}`,
        dead.name,
        undefined,
      );
    }
    if (await p.check()) return;
    await sleep(250);
  }
  throw new ControlPlaneStartError(
    `timed out waiting for ${p.what}\n--- last lines of ${p.component.logFile} ---\n${await tailLog(p.component.logFile)}`,
    p.component.name,
    undefined,
  );
}

function fakeNode(name: string): object {
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [fakeNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    status: {
      allocatable: resources,
      capacity: resources,
      nodeInfo: { architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'fake', kubeProxyVersion: 'fake' },
    },
  };
}

interface NodeStatus {
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

function nodeSchedulable(body: string): boolean {
  const node = JSON.parse(body) as NodeStatus;
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  // Admission taints every new Node not-ready; the node lifecycle controller
  // lifts it once kwok reports Ready. Until then nothing schedules.
  const tainted = node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/')) ?? false;
  return ready && !tainted;
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
 * kwok on free loopback ports, waits until the API server is ready, fake
 * nodes are schedulable and the default ServiceAccount exists, and writes
 * an admin kubeconfig. On failure everything started is stopped, logs are
 * kept, and the error names the component and ends with its log.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((): void => undefined);
  const began = Date.now();
  const deadline = began + (opts.startTimeoutMs ?? 120_000);
  const detached = opts.detached ?? false;
  const advertiseAddress = opts.advertiseAddress ?? '127.0.0.1';
  const serviceRange = opts.serviceClusterIpRange ?? '10.96.0.0/16';

  let binDir = opts.binDir;
  if (binDir === undefined) {
    const built = await ensureBinaries();
    if (!built.ok) throw new ControlPlaneStartError(`cannot build the control plane: ${built.reason}`, undefined, undefined);
    binDir = built.binDir;
  }
  const bin = (name: string): string => join(binDir, name);

  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'hearth-k8s-')));
  const logsDir = join(workDir, 'logs');
  const dataDir = join(workDir, 'data');
  await mkdir(logsDir, { recursive: true });
  await mkdir(dataDir, { recursive: true });

  const components: Component[] = [];
  const agents: Agent[] = [];
  const stop = async (stopOpts: { keepLogs?: boolean } = {}): Promise<void> => {
    await stopControlPlanePids(components);
    await Promise.all(agents.map((a) => a.close()));
    if (stopOpts.keepLogs) {
      await rm(dataDir, { recursive: true, force: true });
      await rm(join(workDir, 'pki'), { recursive: true, force: true });
    } else {
      await rm(workDir, { recursive: true, force: true });
    }
  };
  const start = (name: string, args: string[]): Component => {
    const c = startComponent(name, bin(name), args, logsDir, detached);
    components.push(c);
    return c;
  };

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await freeLoopbackPorts(6);
    if (etcdClient === undefined || etcdPeer === undefined || apiPort === undefined || kcmPort === undefined || schedPort === undefined || kwokPort === undefined) {
      throw new Error('could not reserve loopback ports');
    }
    const server = `https://127.0.0.1:${apiPort}`;
    const firstServiceIp = serviceRange.replace(/\.0\/\d+$/, '.1');
    const pki = await makePki(join(workDir, 'pki'), {
      ips: ['127.0.0.1', advertiseAddress, firstServiceIp],
      dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    });
    const apiAgent = caAgent(pki.caPem);
    const healthAgent = selfSignedAgent();
    agents.push(apiAgent, healthAgent);

    const kubeconfigPath = join(workDir, 'kubeconfig');
    const kcmKubeconfig = join(pki.dir, 'controller-manager.kubeconfig');
    const schedKubeconfig = join(pki.dir, 'scheduler.kubeconfig');
    await writeKubeconfig(kubeconfigPath, { server, caPem: pki.caPem, user: 'admin', token: pki.tokens.admin });
    await writeKubeconfig(kcmKubeconfig, { server, caPem: pki.caPem, user: 'system:kube-controller-manager', token: pki.tokens.controllerManager });
    await writeKubeconfig(schedKubeconfig, { server, caPem: pki.caPem, user: 'system:kube-scheduler', token: pki.tokens.scheduler });

    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = start('etcd', [
      '--name=hearth', `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`, `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=hearth=${etcdPeerUrl}`,
      // A test cluster's data is thrown away, so durability buys nothing but slow writes.
      '--unsafe-no-fsync=true', '--log-level=warn',
    ]);
    await waitFor({ what: 'etcd /health', component: etcd, deadline, check: async () => {
      const r = await probe(`${etcdUrl}/health`, { agent: healthAgent });
      return r.status === 200 && r.body.includes('"true"');
    } });
    log(`etcd ready on ${etcdUrl} (${Date.now() - began} ms)`);

    const apiserver = start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${opts.bindAddress ?? '127.0.0.1'}`, `--secure-port=${apiPort}`,
      `--advertise-address=${advertiseAddress}`,
      // Endpoints may not hold loopback addresses; with no reconciler the
      // `kubernetes` Service simply has none, which kwok-only tests never use.
      `--endpoint-reconciler-type=${opts.endpointReconciler ?? 'none'}`,
      `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
      `--token-auth-file=${pki.tokenFile}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      // Pod logs (GET …/pods/P/log) reach a node's kubelet endpoint at its InternalIP: the process node registers a
      // Hostname no resolver knows. The endpoint's certificate is not verified (no --kubelet-certificate-authority).
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${serviceRange}`,
      '--allow-privileged=true',
      // HEARTH_K8S_PROFILING=1 serves /debug/pprof (CPU profiles of the API server under a benchmark's load).
      `--profiling=${process.env.HEARTH_K8S_PROFILING === '1' ? 'true' : 'false'}`,
      `--cert-dir=${pki.dir}`,
    ]);
    await waitFor({ what: 'kube-apiserver /readyz', component: apiserver, deadline, check: async () => {
      const r = await probe(`${server}/readyz`, { agent: apiAgent, token: pki.tokens.admin });
      return r.status === 200;
    } });
    log(`kube-apiserver ready on ${server} (${Date.now() - began} ms)`);

    const kcm = start('kube-controller-manager', [
      `--kubeconfig=${kcmKubeconfig}`,
      `--authentication-kubeconfig=${kcmKubeconfig}`, `--authorization-kubeconfig=${kcmKubeconfig}`,
      '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--cert-dir=${join(dataDir, 'kcm')}`,
      // nodeipam needs a cluster CIDR to hand out and kwok assigns pod IPs itself.
      "--controllers=*,-nodeipam",
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--leader-elect=false',
    ]);
    const scheduler = start('kube-scheduler', [
      `--kubeconfig=${schedKubeconfig}`,
      `--authentication-kubeconfig=${schedKubeconfig}`, `--authorization-kubeconfig=${schedKubeconfig}`,
      '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, `--cert-dir=${join(dataDir, 'scheduler')}`,
      '--leader-elect=false',
    ]);
    const kwok = start('kwok', [
      `--kubeconfig=${kubeconfigPath}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation}=fake`,
      `--cidr=${opts.podCidr ?? '10.1.0.0/16'}`,
      '--node-ip=127.0.0.1',
      '--node-lease-duration-seconds=40',
      `--server-address=127.0.0.1:${kwokPort}`,
    ]);
    for (const [c, port] of [[kcm, kcmPort], [scheduler, schedPort]] as const) {
      await waitFor({ what: `${c.name} /healthz`, component: c, deadline, check: async () => {
        const r = await probe(`https://127.0.0.1:${port}/healthz`, { agent: healthAgent });
        return r.status === 200;
      } });
    }
    log(`controller-manager and scheduler healthy (${Date.now() - began} ms)`);

    const nodeNames = Array.from({ length: opts.fakeNodes ?? 1 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodeNames) {
      const r = await probe(`${server}/api/v1/nodes`, { agent: apiAgent, token: pki.tokens.admin, method: 'POST', body: fakeNode(name) });
      if (r.status !== 201) throw new ControlPlaneStartError(`creating fake node ${name} failed: HTTP ${r.status} ${r.body}`, 'kube-apiserver', undefined);
    }
    for (const name of nodeNames) {
      await waitFor({ what: `fake node ${name} Ready and untainted (kwok and the node lifecycle controller)`, component: kwok, watch: components, deadline, check: async () => {
        const r = await probe(`${server}/api/v1/nodes/${name}`, { agent: apiAgent, token: pki.tokens.admin });
        return r.status === 200 && nodeSchedulable(r.body);
      } });
    }
    await waitFor({ what: 'the default ServiceAccount (serviceaccount controller)', component: kcm, deadline, check: async () => {
      const r = await probe(`${server}/api/v1/namespaces/default/serviceaccounts/default`, { agent: apiAgent, token: pki.tokens.admin });
      return r.status === 200;
    } });
    log(`control plane ready with ${nodeNames.length} fake node(s) in ${Date.now() - began} ms`);

    const pids = Object.fromEntries(components.map((c) => [c.name, c.pid]));
    const common = { kubeconfigPath, server, token: pki.tokens.admin, caPem: pki.caPem, workDir, logsDir, binDir, pids };
    if (detached) return { ...common, stop };
    // If the test runner dies without its teardown, do not leave servers behind.
    const killAll = (): void => {
      for (const c of components) if (c.exit === undefined) c.child.kill('SIGKILL');
    };
    process.once('exit', killAll);
    return {
      ...common,
      stop: async (s) => {
        process.removeListener('exit', killAll);
        await stop(s);
      },
    };
  } catch (err) {
    await stop({ keepLogs: true });
    if (err instanceof ControlPlaneStartError) {
      throw new ControlPlaneStartError(`${err.message}\n(all component logs kept in ${logsDir})`, err.component, logsDir);
    }
    throw new ControlPlaneStartError(`${err instanceof Error ? err.message : String(err)}\n(logs in ${logsDir})`, undefined, logsDir);
  }
}
