// The command line that starts a runtime inside a sandbox, as a pure function
// of what the sandbox should hold. bubblewrap builds a new root from nothing:
// /usr read-only (with the /bin, /lib, /lib64, /sbin links into it), the few
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
  if (spec.user.kind === 'switch') {
    for (const cap of ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP']) a.push('--cap-add', cap);
    const uid = String(spec.user.uid);
    a.push('--', spec.user.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs');
  }
  a.push('--', spec.command, ...spec.args);
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
  const all = bwrapArgs(spec);
  const sep = all.indexOf('--');
  const options = all.slice(0, sep).map((o) => `${o}\0`).join('');
  const args = ['--args', String(OPTIONS_FD), ...all.slice(sep)];
  if (spec.cgroupProcs === undefined) return { command: spec.bwrap, args, options };
  return { command: '/bin/sh', args: ['-c', 'echo $$ > "$0" && exec "$@"', spec.cgroupProcs, spec.bwrap, ...args], options };
}

/** A host path as the sandbox sees it, when it lies in one of the directories mounted elsewhere; else undefined. */
export function insidePath(hostPath: string, mounts: readonly { host: string; inside: string }[]): string | undefined {
  for (const m of mounts) {
    if (under(hostPath, m.host)) return m.inside + hostPath.slice(m.host.replace(/\/$/, '').length);
  }
  return undefined;
}
