import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Component {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Set once the process has exited; a component that dies during start-up fails it at once. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/**
 * Starts one control-plane program with stdout and stderr appended to
 * logs/<name>.log. The log is a file, not a pipe, so a detached cluster
 * (cluster-up) keeps running after the Node process that started it exits.
 */
export function startComponent(name: string, bin: string, args: string[], logsDir: string, detached: boolean): Component {
  const logFile = join(logsDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${name} (${bin})`);
  const component: Component = { name, pid: child.pid, logFile, child, exit: undefined };
  child.on('exit', (code, signal) => {
    component.exit = { code, signal };
  });
  if (detached) child.unref();
  return component;
}

export async function tailLog(logFile: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM, then SIGKILL after graceMs. Works on pids from another process
 * too (cluster-down), which is why it polls rather than awaiting 'exit'.
 */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
}

/** True while pid still runs the given program, so a recycled pid is never signalled. */
export async function pidRuns(pid: number, bin: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0] === bin;
  } catch {
    return false;
  }
}

/**
 * Stops the API clients in parallel, then etcd last so the API server can
 * shut down cleanly; sequential stops took ~10 s, this takes ~5.
 */
export async function stopControlPlanePids(pids: { name: string; pid: number }[]): Promise<void> {
  await Promise.all(pids.filter((p) => p.name !== 'etcd').map((p) => stopPid(p.pid)));
  await Promise.all(pids.filter((p) => p.name === 'etcd').map((p) => stopPid(p.pid)));
}
