// What a process-node run may leave on the machine, named after the run that
// made it, so a leak check says whose a leftover is and never blames another
// run for it.
//
// A run is a cluster started in a network namespace by netns-run.sh: its id
// is `<netns>.<pid>` (pid of the process that started the cluster). The node
// names after it its memory cgroup (hearth-node.<id>), its work directory
// (/var/lib/hearth-process-node/<id>), its checkout mount point
// (/run/hearth-checkout-<id>) and every pod holder process (command line
// hearth-pause:<id>:<namespace>/<pod>). A run is live while its network
// namespace exists and, for a namespace netns-run.sh made for one command,
// the netns-run.sh that owns it (recorded in /run/hearth-netns/<netns>/owner)
// is still running.
//
//   tsx test/cluster/leaks.ts check NETNS   after a run: what run NETNS left, removed; exit 1 if anything
//   tsx test/cluster/leaks.ts sweep-stale   before a run: what runs no longer live left, reported and removed
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { killTree, MEMORY_ROOT } from '../../src/sandbox/memory-cgroup.js';
import { run } from './node/exec.js';

export const NODE_STATE_ROOT = '/var/lib/hearth-process-node';
export const NETNS_STATE_ROOT = '/run/hearth-netns';
const NETNS_ROOT = '/run/netns';
const CGROUP_PREFIX = 'hearth-node.';
const CHECKOUT_PREFIX = 'hearth-checkout-';
const HOLDER_PREFIX = 'hearth-pause:';
/** Names from before runs were named: hearth-hearth-node-<pid>. */
const LEGACY = /^hearth-hearth-node-(\d+)$/;

export function runIdOf(netns: string, pid: number): string {
  return `${netns}.${pid}`;
}

export function nodeCgroupName(runId: string): string {
  return `${CGROUP_PREFIX}${runId}`;
}

export function nodeWorkDir(runId: string): string {
  return join(NODE_STATE_ROOT, runId);
}

/** A pod holder's command line (argv[0]). */
export function holderName(runId: string, podKey: string): string {
  return `${HOLDER_PREFIX}${runId}:${podKey}`;
}

/** Whose a leftover is: a named run, or (names from before) only the pid that started it. */
export type RunRef = { netns: string; pid?: number } | { legacyPid: number };

export function parseRunId(id: string): RunRef | undefined {
  const legacy = LEGACY.exec(id);
  if (legacy !== null) return { legacyPid: Number(legacy[1]) };
  const m = /^(.+)\.(\d+)$/.exec(id);
  return m === null ? undefined : { netns: m[1] ?? '', pid: Number(m[2]) };
}

export type LeftoverKind = 'netns' | 'holder' | 'cgroup' | 'work-dir' | 'checkout-dir';

export interface Leftover {
  kind: LeftoverKind;
  run: RunRef;
  /** A path, or for a holder its pid. */
  path?: string;
  pid?: number;
  /** For a holder: its command line. */
  command?: string;
}

/**
 * The run a resource name stands for, from the directory entry (cgroup, work
 * directory, checkout mount point) or holder command line the node made;
 * undefined for names no run made.
 */
export function runOfName(kind: Exclude<LeftoverKind, 'netns'>, name: string): RunRef | undefined {
  if (kind === 'holder') {
    if (!name.startsWith(HOLDER_PREFIX)) return undefined;
    const id = name.slice(HOLDER_PREFIX.length).split(':')[0] ?? '';
    return parseRunId(id);
  }
  if (kind === 'cgroup') {
    if (LEGACY.test(name)) return parseRunId(name);
    return name.startsWith(CGROUP_PREFIX) ? parseRunId(name.slice(CGROUP_PREFIX.length)) : undefined;
  }
  if (kind === 'checkout-dir') return name.startsWith(CHECKOUT_PREFIX) ? parseRunId(name.slice(CHECKOUT_PREFIX.length)) : undefined;
  return parseRunId(name);
}

export interface Liveness {
  netnsLive(netns: string): boolean;
  pidAlive(pid: number): boolean;
  /** Whether any namespace netns-run.sh made exists: a cluster from before runs were named could be in it. */
  anyRunNetns(): boolean;
}

/**
 * A named run lives with its namespace. An unnamed one (from before) names
 * only the pid that started it, which for `make cluster-up` exits while the
 * cluster runs on: so it counts as live while that pid runs or while any
 * netns-run.sh namespace exists, and as stale only once neither does.
 */
export function runIsLive(run: RunRef, l: Liveness): boolean {
  return 'legacyPid' in run ? l.pidAlive(run.legacyPid) || l.anyRunNetns() : l.netnsLive(run.netns);
}

export function describeRun(run: RunRef): string {
  if ('legacyPid' in run) return `an unnamed run (cluster pid ${run.legacyPid}, from before runs were named)`;
  return `run ${run.netns}${run.pid === undefined ? '' : ` (cluster pid ${run.pid})`}`;
}

export function describeLeftover(l: Leftover): string {
  if (l.kind === 'holder') return `pod holder pid ${l.pid ?? '?'} (${l.command ?? ''})`;
  if (l.kind === 'netns') return `network namespace ${l.path ?? ''} (its owner is gone)`;
  return `${l.kind} ${l.path ?? ''}`;
}

/**
 * Splits leftovers into this run's (thisNetns; none if undefined), those of
 * runs no longer live (stale: an earlier run leaked them), and those of live
 * runs (in use by another run: never touched).
 */
export function partition(leftovers: Leftover[], thisNetns: string | undefined, l: Liveness): { mine: Leftover[]; stale: Leftover[]; live: Leftover[] } {
  const out = { mine: [] as Leftover[], stale: [] as Leftover[], live: [] as Leftover[] };
  for (const x of leftovers) {
    if (thisNetns !== undefined && !('legacyPid' in x.run) && x.run.netns === thisNetns) out.mine.push(x);
    else if (x.kind === 'netns' || !runIsLive(x.run, l)) out.stale.push(x);
    else out.live.push(x);
  }
  return out;
}

/** Groups by run, for messages that name each run once. */
export function byRun(leftovers: Leftover[]): Map<string, { run: RunRef; items: Leftover[] }> {
  const out = new Map<string, { run: RunRef; items: Leftover[] }>();
  for (const x of leftovers) {
    const key = describeRun(x.run);
    const entry = out.get(key) ?? { run: x.run, items: [] };
    entry.items.push(x);
    out.set(key, entry);
  }
  return out;
}

// ---- the machine ----

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Field 22 of /proc/<pid>/stat: tells a pid from a later process that reuses it. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** The netns-run.sh that made a namespace for one command: `<pid> <start time>`; none for a --create namespace. */
function ownerOf(netns: string): { pid: number; start: string } | undefined {
  try {
    const [pid, start] = readFileSync(join(NETNS_STATE_ROOT, netns, 'owner'), 'utf8').trim().split(/\s+/);
    return { pid: Number(pid), start: start ?? '' };
  } catch {
    return undefined;
  }
}

function ownerAlive(o: { pid: number; start: string }): boolean {
  return startTime(o.pid) === o.start;
}

export const machine: Liveness = {
  netnsLive(netns) {
    if (!existsSync(join(NETNS_ROOT, netns))) return false;
    const owner = ownerOf(netns);
    return owner === undefined || ownerAlive(owner);
  },
  pidAlive,
  anyRunNetns: () => entries(NETNS_STATE_ROOT).some((n) => existsSync(join(NETNS_ROOT, n))),
};

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((w) => w !== '').join(' ');
  } catch {
    return undefined;
  }
}

function netnsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Every process in the network namespace at nsPath (a /proc/<pid>/ns/net or /run/netns/<name>). */
function pidsInNetns(nsPath: string): number[] {
  const ino = netnsInode(nsPath);
  if (ino === undefined) return [];
  return entries('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => netnsInode(`/proc/${pid}/ns/net`) === ino);
}

/** Everything a run may leave that this machine has now, whoever's. */
export function scan(): Leftover[] {
  const out: Leftover[] = [];
  for (const name of entries(NETNS_ROOT)) {
    // Namespaces netns-run.sh made for one command whose netns-run.sh is gone (killed before it could remove them).
    const owner = ownerOf(name);
    if (owner !== undefined && !ownerAlive(owner)) out.push({ kind: 'netns', run: { netns: name }, path: join(NETNS_ROOT, name) });
  }
  for (const e of entries('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const command = cmdline(Number(e));
    if (command === undefined || !command.startsWith(HOLDER_PREFIX)) continue;
    const run = runOfName('holder', command);
    if (run !== undefined) out.push({ kind: 'holder', run, pid: Number(e), command });
  }
  const dirs: [Exclude<LeftoverKind, 'netns' | 'holder'>, string][] = [['cgroup', MEMORY_ROOT], ['work-dir', NODE_STATE_ROOT], ['checkout-dir', '/run']];
  for (const [kind, root] of dirs) {
    for (const name of entries(root)) {
      const run = runOfName(kind, name);
      if (run !== undefined) out.push({ kind, run, path: join(root, name) });
    }
  }
  return out;
}

/** Mounts of the namespace netns-run.sh made (its /run/netns file, its resolv.conf), still on the machine. */
function mountsOf(netns: string): string[] {
  try {
    return readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(`${NETNS_ROOT}/${netns} `) || l.includes(`${NETNS_STATE_ROOT}/${netns}/`));
  } catch {
    return [];
  }
}

/**
 * Removes leftovers: stale namespaces first (their processes, the node among
 * them, would remake the rest), then holders with every process in their pod
 * namespace, then cgroups (killing what is in them), directories and mount
 * points. Returns a line per leftover saying what was done.
 */
export async function clean(leftovers: Leftover[]): Promise<string[]> {
  const order: LeftoverKind[] = ['netns', 'holder', 'cgroup', 'work-dir', 'checkout-dir'];
  const lines: string[] = [];
  for (const kind of order) {
    for (const l of leftovers.filter((x) => x.kind === kind)) lines.push(`${describeLeftover(l)}: ${await cleanOne(l)}`);
  }
  return lines;
}

async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (let i = 0; i < 50 && pids.some(pidAlive); i++) await sleep(100);
}

async function cleanOne(l: Leftover): Promise<string> {
  try {
    switch (l.kind) {
      case 'netns': {
        const name = l.path?.split('/').pop() ?? '';
        const pids = pidsInNetns(join(NETNS_ROOT, name));
        await killAll(pids);
        const del = await run('ip', ['netns', 'del', name]);
        await rm(join(NETNS_STATE_ROOT, name), { recursive: true, force: true });
        return del.code === 0 ? `killed ${pids.length} processes in it, deleted` : `could not delete: ${del.stderr.trim()}`;
      }
      case 'holder': {
        const pid = l.pid ?? 0;
        const inPod = pidsInNetns(`/proc/${pid}/ns/net`).filter((p) => p !== pid);
        const others = inPod.map((p) => `${p} (${cmdline(p) ?? '?'})`);
        await killAll([...inPod, pid]);
        return `killed${others.length > 0 ? ` with the processes in its pod network namespace: ${others.join(', ')}` : ''}`;
      }
      case 'cgroup': {
        const { killed, removed } = await killTree(l.path ?? '');
        return `${killed.length > 0 ? `killed ${killed.join(', ')}; ` : ''}${removed ? 'removed' : 'could NOT be removed'}`;
      }
      case 'work-dir':
        await rm(l.path ?? '', { recursive: true, force: true });
        // The shared parent too, once no other run uses it (as the node does).
        await rmdir(NODE_STATE_ROOT).catch(() => undefined);
        return 'removed';
      case 'checkout-dir': {
        // An empty mount target the node made; anything else is not ours to remove.
        const path = l.path ?? '';
        if (statSync(path).isDirectory() && readdirSync(path).length === 0) {
          await rmdir(path);
          return 'removed';
        }
        return 'left alone (not an empty directory)';
      }
    }
  } catch (err) {
    return `could NOT be cleaned: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Leftovers of one run (by its full id, or every run in a namespace), e.g. after the e2e suite stopped its cluster. */
export function leftoversOf(match: { runId: string } | { netns: string }): Leftover[] {
  return scan().filter((x) => {
    if ('legacyPid' in x.run) return false;
    if ('netns' in match) return x.run.netns === match.netns;
    const want = parseRunId(match.runId);
    return want !== undefined && !('legacyPid' in want) && x.run.netns === want.netns && x.run.pid === want.pid;
  });
}

/** Reports and removes what runs no longer live left, run by run; never touches a live run's. */
export async function sweepStale(log: (m: string) => void): Promise<void> {
  const { stale } = partition(scan(), undefined, machine);
  if (stale.length === 0) return;
  const lines = ['leftovers of earlier runs (not this run\'s: each of those runs failed its own check, or was killed before it could check) removed:'];
  for (const [name, { items }] of byRun(stale)) lines.push(`  ${name}:`, ...(await clean(items)).map((d) => `    ${d}`));
  log(lines.join('\n'));
}

/** After run `netns` ended: anything of it left is its leak, reported (naming it) and removed. True if clean. */
export async function checkRun(netns: string, who: string, log: (m: string) => void): Promise<boolean> {
  const mine = leftoversOf({ netns });
  const mounts = mountsOf(netns);
  const lingering = existsSync(join(NETNS_ROOT, netns)) ? pidsInNetns(join(NETNS_ROOT, netns)) : [];
  if (mine.length === 0 && mounts.length === 0 && lingering.length === 0 && !existsSync(join(NETNS_ROOT, netns))) {
    log(`teardown clean: run ${netns} (${who}) left no process, namespace, cgroup, pod directory or mount`);
    return true;
  }
  const lines: string[] = [];
  if (existsSync(join(NETNS_ROOT, netns))) lines.push(`network namespace ${netns} still there, processes in it: ${lingering.map((p) => `${p} (${cmdline(p) ?? '?'})`).join(', ') || 'none'}`);
  for (const m of mounts) lines.push(`mount still there: ${m}`);
  lines.push(...(await clean(mine)));
  log([`LEAKED after teardown by run ${netns} (${who}), THIS run; removed now where possible:`, ...lines.map((l) => `  ${l}`)].join('\n'));
  return false;
}

async function main(): Promise<void> {
  const [cmd, netns, ...rest] = process.argv.slice(2);
  const log = (m: string): void => console.error(`leak check: ${m}`);
  if (cmd === 'sweep-stale') {
    await sweepStale(log);
    return;
  }
  if (cmd === 'check' && netns !== undefined) {
    process.exitCode = (await checkRun(netns, rest.join(' ') || 'netns-run.sh', log)) ? 0 : 1;
    return;
  }
  console.error('usage: leaks.ts check NETNS [WHO...] | sweep-stale');
  process.exitCode = 2;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
