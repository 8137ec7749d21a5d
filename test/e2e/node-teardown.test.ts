// The process node leaves nothing behind when it stops in the middle of pod
// churn: pods being created, running, and terminating (preStop hooks under
// way) while it gets SIGTERM, and more created and deleted while it stops.
// A second process node joins the e2e cluster for this (its own bridge, pod
// CIDR, cgroup and work directory), so stopping it does not disturb the
// suite's own node; its pods are bound to it by spec.nodeName.
//
// After its exit: no pod holder process, no memory cgroup, no pod or work
// directory, no checkout mount point (leaks.ts finds them by the run's name),
// no veth on its bridge, and its log shows its own teardown had nothing for
// the final sweep to catch.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clean, leftoversOf, nodeCgroupName, nodeWorkDir, runIdOf } from '../cluster/leaks.js';
import { run } from '../cluster/node/exec.js';
import { repoRoot } from '../cluster/node/images.js';
import type { ProcessNodeConfig } from '../cluster/node/main.js';
import { gatewayIp } from '../cluster/node/network.js';
import { api, ctx, kubectl, until } from './cluster.js';

const NS = 'node-churn';
const NODE = 'hearth-churn-node';
const BRIDGE = 'hearth1';
const POD_CIDR = '10.244.1.0/24';
const IMAGE = 'docker.io/library/redis:7';

let node: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
let runId = '';
let logFile = '';

/**
 * Four kinds of pod, so the stop meets each: a long preStop hook, none, a
 * hook in a sidecar with a volume and a probe, and an app slow to exit on
 * SIGTERM (a termination under way for seconds even without a hook).
 */
function churnPod(i: number): object {
  const kind = i % 4;
  const app = {
    name: 'app',
    image: IMAGE,
    command: kind === 3 ? ['sh', '-c', 'trap "sleep 20; exit 0" TERM; while :; do sleep 1; done'] : ['sleep', '600'],
    ...(kind === 0 ? { lifecycle: { preStop: { sleep: { seconds: 20 } } } } : {}),
    ...(kind === 2 ? { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }], readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `churn-${i}`, namespace: NS, labels: { app: 'churn' } },
    spec: {
      nodeName: NODE,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      ...(kind === 2
        ? {
            volumes: [{ name: 'scratch', emptyDir: {} }],
            initContainers: [{ name: 'side', image: IMAGE, restartPolicy: 'Always', command: ['sleep', '600'], lifecycle: { preStop: { exec: { command: ['sleep', '1'] } } } }],
          }
        : {}),
      containers: [app],
    },
  };
}

async function create(i: number): Promise<void> {
  await api().call('POST', `/api/v1/namespaces/${NS}/pods`, churnPod(i));
}

async function remove(i: number): Promise<void> {
  await api().call('DELETE', `/api/v1/namespaces/${NS}/pods/churn-${i}`).catch(() => undefined);
}

describe.runIf(inject('e2e') !== undefined).sequential('the process node stopped mid-churn leaves nothing behind', () => {
  beforeAll(async () => {
    const c = ctx();
    await kubectl('create', 'namespace', NS);
    await until('default ServiceAccount', async () => ((await api().getOrUndefined(`/api/v1/namespaces/${NS}/serviceaccounts/default`)) === undefined ? undefined : true));
    runId = runIdOf(process.env.HEARTH_NETNS ?? '', process.pid);
    const cfg: ProcessNodeConfig = {
      server: c.server,
      token: c.token,
      caPem: c.caPem,
      nodeName: NODE,
      nodeIp: gatewayIp(POD_CIDR),
      podCidr: POD_CIDR,
      bridge: BRIDGE,
      workDir: nodeWorkDir(runId),
      podLogsDir: join(c.logsDir, 'churn-pods'),
      clusterDns: '10.96.0.10',
      clusterDomain: 'cluster.local',
      kubernetesServiceHost: '10.96.0.1',
      cgroupName: nodeCgroupName(runId),
      runId,
      backoffBaseMs: 1_000,
    };
    const cfgPath = join(c.workDir, 'churn-node.json');
    writeFileSync(cfgPath, JSON.stringify(cfg), { mode: 0o600 });
    logFile = join(c.logsDir, 'churn-node.log');
    const tsx = pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;
    const out = openSync(logFile, 'a');
    node = spawn(process.execPath, ['--import', tsx, join(repoRoot, 'test/cluster/node/main.ts'), cfgPath], { stdio: ['ignore', out, out] });
    const child = node;
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await until(`node ${NODE} Ready`, async () => {
      const n = await api().getOrUndefined<{ status?: { conditions?: { type: string; status: string }[] } }>(`/api/v1/nodes/${NODE}`);
      return n?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    if (node !== undefined && node.exitCode === null && node.signalCode === null) {
      node.kill('SIGTERM');
      await Promise.race([exited, sleep(60_000)]);
      if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
    }
    // A failed run must not leave its leak to the next one (nor to the suite's own leak check).
    if (runId !== '') await clean(leftoversOf({ runId }));
    await kubectl('delete', 'namespace', NS, '--grace-period=0', '--force', '--wait=false').catch(() => undefined);
    await kubectl('delete', 'node', NODE, '--wait=false').catch(() => undefined);
    await run('ip', ['link', 'del', BRIDGE]);
  }, 120_000);

  it('creates and deletes pods in quick succession, SIGTERMs the node mid-churn, and finds no holder, cgroup, directory or veth left', async () => {
    // Churn: a pod every 300 ms, each deleted three pods later (gracefully: long preStop hooks under way).
    let i = 0;
    let churning = true;
    const churn = (async () => {
      for (; churning; i++) {
        await create(i);
        if (i >= 3) void remove(i - 3);
        await sleep(300);
      }
    })();
    await until('some pods running on the churn node', async () => {
      const list = await api().get<{ items: { status?: { phase?: string } }[] }>(`/api/v1/namespaces/${NS}/pods`);
      return list.items.filter((p) => p.status?.phase === 'Running').length >= 4 ? true : undefined;
    }, 60_000);
    await sleep(3_000);
    // Mid-churn: pods being created, running and terminating; the churn goes on while the node stops.
    node?.kill('SIGTERM');
    const createdBeforeStop = i;
    await sleep(3_000);
    churning = false;
    await churn;
    const exit = await Promise.race([exited, sleep(60_000).then(() => 'still running' as const)]);
    const log = readFileSync(logFile, 'utf8');
    expect(exit, log.slice(-4000)).toEqual({ code: 0, signal: null });
    expect(i).toBeGreaterThan(createdBeforeStop);

    // What the node made, by the run's name: holders, cgroup, work and pod directories, checkout mount point.
    expect(leftoversOf({ runId })).toEqual([]);
    const ports = await run('ip', ['-o', 'link', 'show', 'master', BRIDGE]);
    expect(ports.stdout.trim()).toBe('');
    // Its own teardown was complete: the final sweep had nothing to catch, and no termination failed.
    expect(log).not.toMatch(/pod teardown left|terminating pod .* failed|lifecycle failed/);
    // The stop met terminations under way: hooks cut to its short grace.
    expect(log).toMatch(/preStop hook cut short/);
  }, 240_000);
});
