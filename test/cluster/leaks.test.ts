// Whose a leftover is (leaks.ts): names a run's node gives its cgroup, work
// directory, checkout mount point and pod holders, read back to the run; and
// which leftovers a check blames on this run, sweeps as an earlier run's, or
// leaves alone because their run is live; and a check removing a run's real
// leftovers (holder, the processes in its pod namespace, cgroup, directories).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MEMORY_ROOT, memoryCgroupAvailable } from '../../src/sandbox/memory-cgroup.js';
import { checkRun, holderName, nodeCgroupName, nodeWorkDir, partition, runIdOf, runOfName, type Leftover, type Liveness, type RunRef } from './leaks.js';

describe('runOfName', () => {
  const id = runIdOf('hearth-e2e-4242', 777);
  const rows: [string, Parameters<typeof runOfName>[0], string, RunRef | undefined][] = [
    ['a node cgroup', 'cgroup', nodeCgroupName(id), { netns: 'hearth-e2e-4242', pid: 777 }],
    ['a work directory', 'work-dir', id, { netns: 'hearth-e2e-4242', pid: 777 }],
    ['a checkout mount point', 'checkout-dir', `hearth-checkout-${id}`, { netns: 'hearth-e2e-4242', pid: 777 }],
    ['a pod holder', 'holder', `${holderName(id, 'ns/pod-1')} 2147483647`, { netns: 'hearth-e2e-4242', pid: 777 }],
    ['a dev cluster holder', 'holder', holderName(runIdOf('hearth-dev', 12), 'hearth/gw'), { netns: 'hearth-dev', pid: 12 }],
    ['a cgroup named before runs were', 'cgroup', 'hearth-hearth-node-555', { legacyPid: 555 }],
    ['a work directory named before runs were', 'work-dir', 'hearth-hearth-node-555', { legacyPid: 555 }],
    ['a checkout mount point named before runs were', 'checkout-dir', 'hearth-checkout-hearth-hearth-node-555', { legacyPid: 555 }],
    ['some other cgroup', 'cgroup', 'system.slice', undefined],
    ['some other /run entry', 'checkout-dir', 'hearth-netns', undefined],
    ['some other process', 'holder', 'sleep 2147483647', undefined],
  ];
  it.each(rows)('%s', (_what, kind, name, want) => {
    expect(runOfName(kind, name)).toEqual(want);
  });
});

describe('partition: this run\'s, earlier (stale) runs\', live runs\'', () => {
  const live: Liveness = { netnsLive: (n) => n === 'hearth-e2e-1' || n === 'hearth-dev', pidAlive: (p) => p === 10, anyRunNetns: () => true };
  const noNetns: Liveness = { ...live, anyRunNetns: () => false };
  const at = (kind: Leftover['kind'], run: RunRef): Leftover => ({ kind, run, path: `/x/${kind}` });
  const rows: [string, Leftover, string | undefined, 'mine' | 'stale' | 'live', Liveness?][] = [
    ['this run\'s cgroup is its own, live or not', at('cgroup', { netns: 'hearth-e2e-1', pid: 5 }), 'hearth-e2e-1', 'mine'],
    ['a run whose namespace is gone left it: stale', at('holder', { netns: 'hearth-e2e-2', pid: 6 }), 'hearth-e2e-1', 'stale'],
    ['a live run\'s (a concurrent e2e) is left alone', at('work-dir', { netns: 'hearth-e2e-1', pid: 5 }), 'hearth-e2e-3', 'live'],
    ['a dev cluster\'s is left alone', at('cgroup', { netns: 'hearth-dev', pid: 9 }), undefined, 'live'],
    ['a sweep with no run of its own: gone run is stale', at('cgroup', { netns: 'hearth-e2e-9', pid: 9 }), undefined, 'stale'],
    ['an unnamed run whose pid is gone, no namespace anywhere: stale', at('cgroup', { legacyPid: 11 }), undefined, 'stale', noNetns],
    ['an unnamed run whose pid is gone while some namespace exists (an old cluster-up): left alone', at('cgroup', { legacyPid: 11 }), 'hearth-e2e-1', 'live'],
    ['an unnamed run whose pid lives: left alone', at('cgroup', { legacyPid: 10 }), undefined, 'live', noNetns],
    ['a namespace whose owner died is stale', at('netns', { netns: 'hearth-e2e-7' }), undefined, 'stale'],
  ];
  it.each(rows)('%s', (_what, leftover, thisRun, want, liveness = live) => {
    const p = partition([leftover], thisRun, liveness);
    expect({ mine: p.mine.length, stale: p.stale.length, live: p.live.length }).toEqual({ mine: 0, stale: 0, live: 0, [want]: 1 });
  });
});

const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('the leak check test needs root under CI=true (cgroups, /var/lib, network namespaces)');

describe.runIf(root)('checkRun on the machine', () => {
  it('names the run, removes its holder (with the processes in its pod namespace), cgroup, work and checkout directories, and fails', async () => {
    const netns = `hearth-leaktest-${process.pid}`;
    const id = runIdOf(netns, process.pid);
    const holder = spawn('unshare', ['--net', '--', 'bash', '-c', 'exec -a "$0" sleep 2147483647', holderName(id, 'ns/pod')], { stdio: 'ignore', detached: true });
    const holderPid = holder.pid ?? 0;
    await until(() => readFileSync(`/proc/${holderPid}/comm`, 'utf8').trim() === 'sleep');
    const inPod = spawn('nsenter', [`--net=/proc/${holderPid}/ns/net`, 'sleep', '2147483647'], { stdio: 'ignore', detached: true });
    const cgroup = memoryCgroupAvailable() ? join(MEMORY_ROOT, nodeCgroupName(id), 'podx') : undefined;
    const inCgroup = spawn('sleep', ['2147483647'], { stdio: 'ignore', detached: true });
    if (cgroup !== undefined) {
      mkdirSync(cgroup, { recursive: true });
      writeFileSync(join(cgroup, 'cgroup.procs'), String(inCgroup.pid));
    }
    const work = join(nodeWorkDir(id), 'pods', 'x');
    mkdirSync(work, { recursive: true });
    const checkout = `/run/hearth-checkout-${id}`;
    mkdirSync(checkout, { recursive: true });
    await until(() => pidsAlive([inPod.pid ?? 0]));

    const lines: string[] = [];
    expect(await checkRun(netns, 'the leak test', (m) => lines.push(m))).toBe(false);
    const said = lines.join('\n');
    expect(said).toContain(`LEAKED after teardown by run ${netns} (the leak test), THIS run`);
    expect(said).toContain(`pod holder pid ${holderPid} (${holderName(id, 'ns/pod')} 2147483647): killed with the processes in its pod network namespace: ${inPod.pid ?? 0} (sleep 2147483647)`);
    expect(said).toContain(`work-dir ${nodeWorkDir(id)}: removed`);
    expect(said).toContain(`checkout-dir ${checkout}: removed`);
    if (cgroup !== undefined) expect(said).toMatch(new RegExp(`cgroup ${join(MEMORY_ROOT, nodeCgroupName(id))}: killed ${inCgroup.pid ?? 0} \\(sleep 2147483647\\); removed`));
    expect(pidsAlive([holderPid, inPod.pid ?? 0, ...(cgroup === undefined ? [] : [inCgroup.pid ?? 0])])).toBe(false);
    expect([nodeWorkDir(id), checkout, join(MEMORY_ROOT, nodeCgroupName(id))].filter((p) => existsSync(p))).toEqual([]);
    inCgroup.kill('SIGKILL');
    // Nothing of it left: a second check is clean.
    expect(await checkRun(netns, 'the leak test', () => undefined)).toBe(true);
  });
});

function pidsAlive(pids: number[]): boolean {
  return pids.some((p) => {
    try {
      // A zombie (our own child, killed, not yet reaped) counts as gone.
      return !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(25);
}
