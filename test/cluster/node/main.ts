// `tsx test/cluster/node/main.ts CONFIG.json`: the process node as a child
// process of the cluster harness, inside the cluster's network namespace.
// SIGTERM stops every pod and removes what the node made, then exits.
import { readFileSync } from 'node:fs';
import { KubeRest } from './kube-rest.js';
import { NodeAgent } from './node-agent.js';
import { ContainerLogServer } from './container-logs.js';
import { memoryCgroupAvailable, MEMORY_ROOT } from '../../../src/sandbox/memory-cgroup.js';
import { join } from 'node:path';

export interface ProcessNodeConfig {
  server: string;
  token: string;
  caPem: string;
  nodeName: string;
  nodeIp: string;
  podCidr: string;
  bridge: string;
  /**
   * Pod directories (volumes, resolv.conf). Outside any path a pod may mount
   * over (not /tmp): sources under a mountPath would vanish behind it.
   */
  workDir: string;
  /** Container output, one directory per pod, kept after the pod. */
  podLogsDir: string;
  clusterDns: string;
  clusterDomain: string;
  kubernetesServiceHost: string;
  /** Name of this node's memory cgroup under the machine's memory hierarchy. */
  cgroupName: string;
  /** The run this node belongs to (test/cluster/leaks.ts), written into its pod holders' command lines. */
  runId: string;
  backoffBaseMs?: number;
}

const configPath = process.argv[2];
if (configPath === undefined) {
  console.error('usage: main.ts CONFIG.json');
  process.exit(2);
}
const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as ProcessNodeConfig;
const log = (m: string): void => console.log(`${new Date().toISOString()} ${m}`);
const kube = new KubeRest(cfg.server, cfg.token, cfg.caPem);
const agent = new NodeAgent({
  kube,
  nodeName: cfg.nodeName,
  nodeIp: cfg.nodeIp,
  net: { bridge: cfg.bridge, podCidr: cfg.podCidr },
  workDir: cfg.workDir,
  logsDir: cfg.podLogsDir,
  cgroupRoot: memoryCgroupAvailable() ? join(MEMORY_ROOT, cfg.cgroupName) : undefined,
  svc: { kubernetesServiceHost: cfg.kubernetesServiceHost, kubernetesServicePort: 443 },
  clusterDns: cfg.clusterDns,
  clusterDomain: cfg.clusterDomain,
  backoffBaseMs: cfg.backoffBaseMs ?? 10_000,
  runId: cfg.runId,
  capacity: { cpu: '16', memory: '32Gi', pods: '110' },
  heartbeatSeconds: 10,
  log,
});

// The kubelet's log endpoint, which the API server's pods/log proxies to.
const containerLogs = new ContainerLogServer({ logsDir: cfg.podLogsDir, nodeIp: cfg.nodeIp, certDir: join(cfg.podLogsDir, '..', 'kubelet-tls'), log });

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping: terminating pods');
  await agent.stop();
  await containerLogs.stop();
  await kube.close();
  log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

try {
  await agent.start();
  await containerLogs.start();
  log(`node ${cfg.nodeName} registered with pod CIDR ${cfg.podCidr}`);
} catch (err) {
  log(`start failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  await agent.stop().catch(() => undefined);
  process.exit(1);
}
