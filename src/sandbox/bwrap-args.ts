// The command lines that start a runtime inside a sandbox, or a pod's
// container on the process node (below), as pure functions of what each
// should hold. For a function's runtime, bubblewrap builds a new root from
// nothing: /usr read-only (with the /bin, /lib, /lib64, /sbin links into it), the few
// /etc files programs need to resolve names and check certificates, the task
// root read-only at /var/task, the runtime at /var/runtime, layers at /opt, a
// private size-limited /tmp, its own /proc and /dev, and its own PID, IPC and
// UTS namespaces. The network is the host's: functions keep outbound access
// and reach their agent's Runtime API on 127.0.0.1, as on Lambda.
//
// As root, bwrap mounts with root's rights (so root-only paths such as a
// pyenv prefix under /root can be bound) and keeps only the capabilities
// setpriv needs to become the sandbox's own unprivileged user with no
// capabilities at all. Otherwise bwrap makes a user namespace.
//
// The function's variables are bwrap's own environment, which it passes on:
// --setenv would put them on bwrap's command line, which the sandbox can read
// from /proc/1/cmdline (bwrap is PID 1 inside).
import { constants as osConstants } from 'node:os';
import { dirname, posix } from 'node:path';

export const TASK_DIR = '/var/task';
export const RUNTIME_DIR = '/var/runtime';
export const OPT_DIR = '/opt';

/** /etc files name resolution, TLS and time zones need; nothing with secrets (no shadow) or host accounts (no passwd). */
export const ETC_FILES: readonly string[] = [
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/nsswitch.conf',
  '/etc/localtime',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/mime.types',
];

/** Mount points the sandbox has anyway; a bind below them needs no directories made for it. */
const BASE_DIRS = ['/usr', '/var/task', '/var/runtime', '/opt', '/proc', '/dev', '/etc'];

export type SandboxUser =
  /** Hearth is root: setpriv (at this path inside) switches to `uid`/`uid` with no groups and no capabilities. */
  | { kind: 'switch'; uid: number; setpriv: string }
  /** Hearth is not root: an unprivileged user namespace, the same uid inside as outside. */
  | { kind: 'userns' };

export interface SandboxSpec {
  bwrap: string;
  user: SandboxUser;
  /** Host directory shown read-only at /var/task. */
  taskRoot: string;
  /** Host directory shown read-only at /var/runtime. */
  runtimeDir?: string;
  /** Host directory shown read-only at /opt (layers). */
  optDir?: string;
  /** Host paths shown read-only at the same path: interpreter prefixes outside /usr, a runtime command's own files. */
  samePath?: readonly string[];
  /** Size of the private /tmp, in MiB (Lambda's ephemeral storage). */
  tmpSizeMB: number;
  /** Which /etc files to show (default ETC_FILES); missing ones are skipped. */
  etcFiles?: readonly string[];
  /** The runtime, as paths inside the sandbox. */
  command: string;
  args: readonly string[];
  /** The memory cgroup's cgroup.procs: the starting shell joins it before bwrap runs, so nothing of the sandbox allocates outside it. */
  cgroupProcs?: string;
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

/** Directories to make (world-searchable) so that `path` can be mounted at the same place. */
export function ancestorsToMake(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); d !== '/' && d !== '.'; d = dirname(d)) {
    if (BASE_DIRS.some((b) => under(d, b))) break;
    if (d === '/tmp') break;
    out.unshift(d);
  }
  return out;
}

/** The bwrap arguments (without bwrap itself). */
export function bwrapArgs(spec: SandboxSpec): string[] {
  const a: string[] = [];
  a.push('--ro-bind', '/usr', '/usr');
  for (const d of ['bin', 'lib', 'lib64', 'sbin']) a.push('--symlink', `usr/${d}`, `/${d}`);
  // bwrap makes the parents of a mount point 0700 (root's), which the sandbox's user could not pass through.
  for (const d of ['/etc', '/var']) a.push('--perms', '0755', '--dir', d);
  for (const f of spec.etcFiles ?? ETC_FILES) a.push('--ro-bind-try', f, f);
  a.push('--ro-bind', spec.taskRoot, TASK_DIR);
  if (spec.runtimeDir !== undefined) a.push('--ro-bind', spec.runtimeDir, RUNTIME_DIR);
  if (spec.optDir !== undefined) a.push('--ro-bind', spec.optDir, OPT_DIR);
  a.push('--perms', '1777', '--size', String(Math.floor(spec.tmpSizeMB * 1024 * 1024)), '--tmpfs', '/tmp');
  // After /tmp, so that a path under /tmp is bound over the tmpfs rather than hidden by it.
  const same = [...new Set((spec.samePath ?? []).map((p) => posix.normalize(p)))].filter((p) => p !== '/' && !under(p, '/usr'));
  const made = new Set<string>();
  for (const p of same) {
    for (const d of ancestorsToMake(p)) {
      if (made.has(d)) continue;
      made.add(d);
      a.push('--perms', '0755', '--dir', d);
    }
    a.push('--ro-bind', p, p);
  }
  a.push('--proc', '/proc', '--dev', '/dev');
  a.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'localhost');
  if (spec.user.kind === 'userns') a.push('--unshare-user', '--disable-userns');
  a.push('--die-with-parent', '--new-session', '--chdir', TASK_DIR);
  if (spec.user.kind === 'switch') a.push(...switchUser(spec.user.setpriv, { uid: spec.user.uid, gid: spec.user.uid, groups: [] }));
  a.push('--', spec.command, ...spec.args);
  return a;
}

/** The capabilities bwrap (as root) keeps for setpriv, which needs them to switch user and empty the bounding set. */
const SETPRIV_CAPS = ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'];

/**
 * As root: bwrap keeps only what setpriv needs, and setpriv becomes the user
 * with these groups (none: --clear-groups) and no capabilities at all, then
 * runs what follows the next `--`.
 */
function switchUser(setpriv: string, id: { uid: number; gid: number; groups: readonly number[] }): string[] {
  const a: string[] = [];
  for (const cap of SETPRIV_CAPS) a.push('--cap-add', cap);
  const groups = id.groups.length === 0 ? '--clear-groups' : `--groups=${id.groups.join(',')}`;
  a.push('--', setpriv, `--reuid=${id.uid}`, `--regid=${id.gid}`, groups, '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs');
  return a;
}

/** The file descriptor bwrap reads its options from (--args): the spawner's fourth stdio entry. */
export const OPTIONS_FD = 3;

/**
 * What to spawn: bwrap, or a shell that joins the memory cgroup and becomes
 * bwrap (the cgroup path is an argument, never shell text). bwrap's options
 * (every host path it binds) come on OPTIONS_FD, NUL-separated, so that its
 * command line, which the sandbox reads as /proc/1/cmdline, shows only the
 * runtime it starts.
 */
export function sandboxCommand(spec: SandboxSpec): { command: string; args: string[]; options: string } {
  const { options, args } = optionsOnFd(bwrapArgs(spec));
  return { ...inCgroup(spec.cgroupProcs, spec.bwrap, args), options };
}

/** bwrap's options (everything before the first `--`) NUL-separated for OPTIONS_FD; its command line keeps only what it runs. */
function optionsOnFd(all: readonly string[]): { options: string; args: string[] } {
  const sep = all.indexOf('--');
  return { options: all.slice(0, sep).map((o) => `${o}\0`).join(''), args: ['--args', String(OPTIONS_FD), ...all.slice(sep)] };
}

/** `command args`, or a shell that joins the memory cgroup (its cgroup.procs path an argument, never shell text) and becomes it. */
function inCgroup(cgroupProcs: string | undefined, command: string, args: readonly string[]): { command: string; args: string[] } {
  if (cgroupProcs === undefined) return { command, args: [...args] };
  return { command: '/bin/sh', args: ['-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, command, ...args] };
}

// A pod's container on the process node (test/cluster/node/): the same bwrap,
// shaped as a container rather than a function's sandbox. The host's root is
// the container's root (the node has no image store: images are programs of
// this machine), with the pod's volumes, the image's files, resolv.conf, hosts
// and hostname bound over it and / alone made read-only for
// readOnlyRootFilesystem. The pod's network and UTS namespaces are its
// holder's, entered with nsenter before bwrap. No PID namespace of its own:
// the node signals, probes and execs into the container's main process by its
// pid as seen here, and a PID namespace would make that process PID 1, which
// ignores a SIGTERM it has no handler for (a different termination than the
// node's suites expect), or put bwrap's reaper between the node and it.
//
// bwrap always sets no_new_privs and mounts binds nosuid, so a container
// never gains privileges by exec (as allowPrivilegeEscalation: false).

/** A bind mount of a container: source on the machine, target inside. */
export interface ContainerMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export type ContainerUser =
  /** A root container that did not drop its capabilities: no switch, and bwrap (as root, given no --cap-add) keeps them. */
  | { kind: 'root' }
  /** setpriv becomes uid/gid with these supplementary groups and no capabilities. */
  | { kind: 'switch'; uid: number; gid: number; groups: readonly number[]; setpriv: string };

export interface ContainerSpec {
  bwrap: string;
  nsenter: string;
  /** `env`, which sets the exact environment after bwrap (which sets PWD after its --chdir). */
  env: string;
  /** The pod's network and UTS namespaces (files under /proc/PID/ns or /run/netns). */
  netns: string;
  utsns: string;
  /** In order: a later bind may land inside an earlier one. */
  mounts: readonly ContainerMount[];
  readOnlyRootFilesystem: boolean;
  user: ContainerUser;
  workingDir: string;
  /** The container's whole environment: nothing of the node's comes through. */
  environment: Readonly<Record<string, string>>;
  argv: readonly string[];
  /** The container's memory cgroup's cgroup.procs, joined before bwrap runs. */
  cgroupProcs?: string;
}

/** The file descriptor bwrap writes {"child-pid": N} to (--info-fd): the spawner's fifth stdio entry. */
export const INFO_FD = 4;

/** The bwrap arguments of a container (without bwrap itself). */
export function containerBwrapArgs(spec: ContainerSpec): string[] {
  // --dev-bind: a plain --bind would mount every submount nodev, /dev's included.
  const a: string[] = ['--dev-bind', '/', '/'];
  for (const m of spec.mounts) a.push(m.readOnly ? '--ro-bind' : '--bind', m.source, m.target);
  // After the binds, and only / itself: volumes and /dev, /proc, /sys keep their own modes.
  if (spec.readOnlyRootFilesystem) a.push('--remount-ro', '/');
  // The environment goes with the options (on OPTIONS_FD), never on a command line.
  a.push('--clearenv');
  for (const [k, v] of Object.entries(spec.environment)) a.push('--setenv', k, v);
  a.push('--chdir', spec.workingDir, '--info-fd', String(INFO_FD));
  if (spec.user.kind === 'switch') a.push(...switchUser(spec.user.setpriv, spec.user));
  // bwrap sets PWD once in the working directory; a container has it only if its spec says so.
  const pwd = spec.environment.PWD;
  a.push('--', spec.env, ...(pwd === undefined ? ['-u', 'PWD'] : [`PWD=${pwd}`]), '--', ...spec.argv);
  return a;
}

/**
 * What to spawn for a container: nsenter into the pod's namespaces, then
 * (with a cgroup) a shell that joins it, then bwrap, its options on
 * OPTIONS_FD; it reports the container's pid on INFO_FD.
 */
export function containerCommand(spec: ContainerSpec): { command: string; args: string[]; options: string } {
  const { options, args } = optionsOnFd(containerBwrapArgs(spec));
  const inner = inCgroup(spec.cgroupProcs, spec.bwrap, args);
  return { command: spec.nsenter, args: [`--net=${spec.netns}`, `--uts=${spec.utsns}`, '--', inner.command, ...inner.args], options };
}

/** The container's pid from what bwrap wrote on INFO_FD; undefined when it failed before starting it. */
export function parseChildPid(info: string): number | undefined {
  const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = osConstants.signals;

/**
 * How the process bwrap ran ended, from bwrap's own exit: bwrap exits
 * 128+n when its child died of signal n (as a shell reports it), so that is
 * read back as the signal; bwrap itself killed by a signal counts the same.
 * (A program that exits 129-192 by itself reads as killed: bwrap tells the
 * two apart no more than a shell does.)
 */
export function childExit(code: number | null, signal: string | null): { exitCode: number; signal?: number } {
  if (code === null) {
    const n = SIGNAL_NUMBERS[signal ?? ''] ?? SIGNAL_NUMBERS.SIGKILL ?? 9;
    return { exitCode: 128 + n, signal: n };
  }
  if (code > 128 && code <= 128 + 64) return { exitCode: code, signal: code - 128 };
  return { exitCode: code };
}

/** A host path as the sandbox sees it, when it lies in one of the directories mounted elsewhere; else undefined. */
export function insidePath(hostPath: string, mounts: readonly { host: string; inside: string }[]): string | undefined {
  for (const m of mounts) {
    if (under(hostPath, m.host)) return m.inside + hostPath.slice(m.host.replace(/\/$/, '').length);
  }
  return undefined;
}
