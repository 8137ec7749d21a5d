// Whether this machine can sandbox function instances, and how: bubblewrap
// for the namespaces, a memory cgroup for memoryMB. What the machine offers is
// observed once at start (probeSandbox, the I/O at the edge); what Hearth then
// does with it is decided by pure functions from those facts, so every case
// (no bwrap, user namespaces off, not Linux, cgroup v1/v2/none) is a row in a
// table-driven test rather than a machine we would need to find.
//
// HEARTH_BWRAP names the bubblewrap binary to use (default: `bwrap` on PATH):
// for a bwrap installed elsewhere, and for tests that simulate a machine
// without one (HEARTH_BWRAP=/nonexistent).
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export type MemoryCgroup = 'cgroup-v1' | 'cgroup-v2' | 'none';

/** What was observed about bubblewrap. */
export type BwrapFacts =
  | { found: false; wanted: string }
  | { found: true; path: string; ran: true }
  | { found: true; path: string; ran: false; error: string };

/** What was observed about the memory controller under the cgroup mount. */
export interface CgroupFacts {
  /** The v1 memory hierarchy's directory, when it exists and this process may create cgroups in it. */
  v1Memory?: { dir: string; writable: boolean } | undefined;
  /** The unified (v2) hierarchy at the mount itself: this process's cgroup there, whether memory is among its controllers, whether it is writable. */
  v2?: { dir: string; memoryController: boolean; writable: boolean } | undefined;
}

export interface SandboxFacts {
  platform: string;
  /** undefined where the platform has no uids. */
  uid: number | undefined;
  bwrap?: BwrapFacts | undefined;
  /** As root, the tool that drops each instance to a uid of its own, and whether it is there (not looked for otherwise). */
  setpriv?: { path: string; found: boolean } | undefined;
  cgroup: CgroupFacts;
}

export interface SandboxSupport {
  /** A sandbox can be made for each instance. */
  enabled: boolean;
  /** Why not, when not: for the warning at start and /readyz. */
  reason?: string;
  /** The bubblewrap binary that made the probe's sandbox. */
  bwrap?: string;
  /** Hearth runs as root: each instance then runs as a uid of its own (as root, a user namespace alone would leave it root). */
  perInstanceUser: boolean;
  /** Not root: bubblewrap makes a user namespace (--unshare-user). */
  userNamespace: boolean;
  /** The controller that can enforce memoryMB; none: memoryMB is not enforced. */
  memory: MemoryCgroup;
  /** Where per-instance memory cgroups go (v1: the memory hierarchy; v2: this process's cgroup). */
  memoryCgroupDir?: string;
  /** Why memoryMB is not enforced, when it is not. */
  memoryReason?: string;
}

/** The decision, from observed facts alone. */
export function decideSandbox(facts: SandboxFacts): SandboxSupport {
  const root = facts.uid === 0;
  const memory = decideMemory(facts);
  const without = (reason: string): SandboxSupport => ({ enabled: false, reason, perInstanceUser: false, userNamespace: false, ...memory });
  if (facts.platform !== 'linux') return without(`function sandboxes need Linux namespaces; this is ${facts.platform}`);
  const b = facts.bwrap;
  if (b === undefined || !b.found) {
    const wanted = b?.wanted ?? 'bwrap';
    return without(
      wanted.includes('/')
        ? `bubblewrap not found at ${wanted} (HEARTH_BWRAP)`
        : `bubblewrap (${wanted}) not found on PATH; install it (Debian: apt-get install bubblewrap)`,
    );
  }
  if (!b.ran) {
    const how = root ? 'as root' : 'in a user namespace (not root: bwrap --unshare-user)';
    return without(`bubblewrap at ${b.path} could not make a sandbox ${how}: ${b.error}${root ? '' : '; user namespaces may be disabled on this machine or in its container'}`);
  }
  // As root, a sandbox without a uid of its own would leave the function root (able to read /etc/shadow).
  if (root && facts.setpriv !== undefined && !facts.setpriv.found) return without(`${facts.setpriv.path} (util-linux) is missing; as root, each instance must switch to a uid of its own`);
  return { enabled: true, bwrap: b.path, perInstanceUser: root, userNamespace: !root, ...memory };
}

function decideMemory(facts: SandboxFacts): Pick<SandboxSupport, 'memory' | 'memoryCgroupDir' | 'memoryReason'> {
  if (facts.platform !== 'linux') return { memory: 'none', memoryReason: `no cgroups on ${facts.platform}` };
  const { v1Memory, v2 } = facts.cgroup;
  if (v1Memory?.writable) return { memory: 'cgroup-v1', memoryCgroupDir: v1Memory.dir };
  if (v2?.memoryController && v2.writable) return { memory: 'cgroup-v2', memoryCgroupDir: v2.dir };
  if (v1Memory) return { memory: 'none', memoryReason: `the memory cgroup ${v1Memory.dir} is not writable by this process` };
  if (v2 && !v2.memoryController) return { memory: 'none', memoryReason: `the memory controller is not enabled in ${v2.dir} (cgroup.controllers)` };
  if (v2) return { memory: 'none', memoryReason: `the cgroup ${v2.dir} is not writable by this process` };
  return { memory: 'none', memoryReason: 'no memory cgroup mounted' };
}

export interface StartFlags {
  /** --credentials was given. */
  credentials: boolean;
  /** The bind address is loopback. */
  loopback: boolean;
  /** --insecure-no-sandbox was given. */
  insecureNoSandbox: boolean;
}

/**
 * Without a sandbox every function can read what the gateway's user can:
 * other functions' code and env, and the credentials file. That is the
 * developer's own machine on loopback without credentials; with credentials
 * (callers who should not see each other) or beyond loopback, it must be
 * asked for. A string is the refusal to print.
 */
export function sandboxRefusal(support: SandboxSupport, flags: StartFlags): string | undefined {
  if (support.enabled || flags.insecureNoSandbox) return undefined;
  const what = [flags.credentials ? '--credentials' : undefined, flags.loopback ? undefined : 'a non-loopback --host'].filter((x) => x !== undefined);
  if (what.length === 0) return undefined;
  return (
    `no function sandbox can be made here (${support.reason}); with ${what.join(' and ')}, functions could read the credentials file and each other's code and environment.\n` +
    'Make a sandbox possible (bubblewrap, user namespaces), or pass --insecure-no-sandbox to start anyway.'
  );
}

/** The one warning line at start, when functions run without a sandbox or without memory limits. */
export function sandboxWarning(support: SandboxSupport): string | undefined {
  const parts: string[] = [];
  if (!support.enabled) parts.push(`functions run WITHOUT a sandbox (${support.reason}): each can read what the gateway's user can`);
  if (support.memory === 'none') parts.push(`memoryMB is not enforced (${support.memoryReason})`);
  return parts.length ? parts.join('; ') : undefined;
}

/** The sandbox as /readyz details show it. */
export interface SandboxDetails {
  enabled: boolean;
  memory: MemoryCgroup;
  perInstanceUser: boolean;
  reason?: string;
  memoryReason?: string;
  /** Started without a sandbox where one was required, because --insecure-no-sandbox said so. */
  insecureNoSandbox?: true;
}

export function sandboxDetails(support: SandboxSupport, insecureNoSandbox = false): SandboxDetails {
  return {
    enabled: support.enabled,
    memory: support.memory,
    perInstanceUser: support.perInstanceUser,
    ...(support.reason !== undefined ? { reason: support.reason } : {}),
    ...(support.memoryReason !== undefined ? { memoryReason: support.memoryReason } : {}),
    ...(insecureNoSandbox && !support.enabled ? { insecureNoSandbox: true as const } : {}),
  };
}

/** What drops a root Hearth's instances to their own uid. */
export const SETPRIV = '/usr/bin/setpriv';

export interface ProbeOptions {
  /** The bubblewrap binary: a path, or a name looked up on PATH (default: $HEARTH_BWRAP, else bwrap). */
  bwrap?: string;
  /** As root: the setpriv binary (default /usr/bin/setpriv). */
  setpriv?: string;
  /** Where cgroup hierarchies are mounted (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /** Which cgroups this process is in (default /proc/self/cgroup). */
  selfCgroupFile?: string;
  env?: NodeJS.ProcessEnv;
  /** How long the trial sandbox may take (default 10 s). */
  timeoutMs?: number;
}

/** The trial: the smallest sandbox an instance's would be built like, running /usr/bin/true. */
export function probeArgs(root: boolean): string[] {
  return [
    ...(root ? [] : ['--unshare-user']),
    ...['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64'],
    ...['--proc', '/proc', '--dev', '/dev', '--unshare-pid', '--die-with-parent', '--', '/usr/bin/true'],
  ];
}

/** Observes this machine (bwrap runs once) and decides. */
export async function probeSandbox(opts: ProbeOptions = {}): Promise<SandboxSupport> {
  return decideSandbox(await observeSandboxFacts(opts));
}

export async function observeSandboxFacts(opts: ProbeOptions = {}): Promise<SandboxFacts> {
  const env = opts.env ?? process.env;
  const uid = process.getuid?.();
  const platform = process.platform;
  if (platform !== 'linux') return { platform, uid, cgroup: {} };
  const wanted = opts.bwrap ?? (env.HEARTH_BWRAP || 'bwrap');
  const path = await findExecutable(wanted, env.PATH ?? '');
  const bwrap: BwrapFacts = path === undefined ? { found: false, wanted } : { found: true, path, ...(await tryRun(path, probeArgs(uid === 0), opts.timeoutMs ?? 10_000)) };
  const setpriv = uid === 0 ? { path: opts.setpriv ?? SETPRIV, found: await can(opts.setpriv ?? SETPRIV, constants.X_OK) } : undefined;
  return { platform, uid, bwrap, setpriv, cgroup: await observeCgroups(opts.cgroupRoot ?? '/sys/fs/cgroup', opts.selfCgroupFile ?? '/proc/self/cgroup') };
}

async function findExecutable(name: string, pathVar: string): Promise<string | undefined> {
  const candidates = name.includes('/') ? [name] : pathVar.split(delimiter).filter((d) => d !== '').map((d) => join(d, name));
  for (const c of candidates) if (await can(c, constants.X_OK)) return c;
  return undefined;
}

function tryRun(path: string, args: string[], timeoutMs: number): Promise<{ ran: true } | { ran: false; error: string }> {
  return new Promise((resolve) => {
    execFile(path, args, { timeout: timeoutMs, env: {} }, (err, _stdout, stderr) => {
      if (!err) return resolve({ ran: true });
      const said = stderr.trim().split('\n')[0];
      resolve({ ran: false, error: said || (err.killed ? `no answer within ${timeoutMs} ms` : err.message) });
    });
  });
}

async function observeCgroups(root: string, selfCgroupFile: string): Promise<CgroupFacts> {
  const facts: CgroupFacts = {};
  const v1 = join(root, 'memory');
  // A v1 memory hierarchy has its own mount with memory.limit_in_bytes at its top.
  if (await can(join(v1, 'memory.limit_in_bytes'), constants.F_OK)) facts.v1Memory = { dir: v1, writable: await can(v1, constants.W_OK) };
  // Unified mode: cgroup.controllers at the mount itself (the hybrid mode's cgroup2 under unified/ carries no memory).
  if (await can(join(root, 'cgroup.controllers'), constants.F_OK)) {
    const dir = join(root, await ownV2Path(selfCgroupFile));
    const controllers = await readFile(join(dir, 'cgroup.controllers'), 'utf8').catch(() => '');
    facts.v2 = { dir, memoryController: controllers.split(/\s+/).includes('memory'), writable: await can(dir, constants.W_OK) };
  }
  return facts;
}

/** This process's cgroup in the unified hierarchy ("0::/path" in /proc/self/cgroup). */
async function ownV2Path(selfCgroupFile: string): Promise<string> {
  const text = await readFile(selfCgroupFile, 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : '/';
}

async function can(path: string, mode: number): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}
