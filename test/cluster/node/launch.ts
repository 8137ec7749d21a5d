// Starting one container process through bwrap (src/sandbox/bwrap-args.ts's
// containerCommand): nsenter joins the pod's network and UTS namespaces, a
// shell joins the container's memory cgroup, and bwrap binds its volumes over
// the machine's root, sets its exact environment and working directory, and
// drops to its user with setpriv. bwrap stays as the container process's
// parent and exits as it does, so the node watches bwrap for the exit and
// signals, probes and execs into the container by the pid bwrap reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { containerCommand, INFO_FD, OPTIONS_FD, parseChildPid, type ContainerSpec } from '../../../src/sandbox/bwrap-args.js';

export interface Launched {
  /** bwrap: its exit is the container's (childExit reads it). */
  child: ChildProcess;
  /** The container's main process (bwrap's child), or bwrap's own pid when bwrap failed before starting it. */
  pid: number;
  /** bwrap's exit, listened for from the spawn on (it may come before the pid is known). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function launch(spec: ContainerSpec, logFile: string): Promise<Launched> {
  const { command, args, options } = containerCommand(spec);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', fd, fd, 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const optionsPipe = child.stdio[OPTIONS_FD] as Writable | null;
  optionsPipe?.on('error', () => undefined);
  optionsPipe?.end(options);
  const infoPipe = child.stdio[INFO_FD] as Readable | null;
  let info = '';
  // bwrap writes the pid and closes its end at once, before the container's setup; a bwrap that fails first just closes it.
  await new Promise<void>((resolve) => {
    if (infoPipe === null) return resolve();
    infoPipe.on('data', (d: Buffer) => (info += d.toString()));
    infoPipe.once('close', () => resolve());
    infoPipe.once('error', () => resolve());
    child.once('error', () => resolve());
  });
  if (child.pid === undefined) throw new Error(`spawn ${command} failed`);
  const pid = parseChildPid(info) ?? child.pid;
  await setUp(child, pid);
  return { child, pid, exited };
}

/** Bounds the wait for bwrap's setup; a container still being set up after it is reported started anyway. */
const SETUP_WAIT_MS = 5_000;

/**
 * Waits until the container process has left bwrap's setup (mounts, then
 * the exec of its program): a container runtime reports a container started
 * only then, and an exec into it (a postStart hook right after the start)
 * would otherwise enter a mount namespace whose root is not there yet. Its
 * command line is bwrap's own until that exec (its executable's path is no
 * guide: it reads differently once bwrap has switched roots).
 */
async function setUp(bwrap: ChildProcess, pid: number): Promise<void> {
  const cmdline = (p: number): string | undefined => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'latin1');
    } catch {
      return undefined;
    }
  };
  const bwrapCmdline = bwrap.pid === undefined ? undefined : cmdline(bwrap.pid);
  if (bwrapCmdline === undefined || pid === bwrap.pid) return;
  const end = Date.now() + SETUP_WAIT_MS;
  while (Date.now() < end && bwrap.exitCode === null && bwrap.signalCode === null) {
    const current = cmdline(pid);
    if (current === undefined || current !== bwrapCmdline) return;
    await sleep(2);
  }
}
