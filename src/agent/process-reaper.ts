// Runtime processes must never outlive Hearth, even when a test fails or the
// host process exits without closing its backends. Children are spawned in
// our own process group (detached: false) and every live one is SIGKILLed
// from an `exit` hook, which runs on normal exit and on process.exit().
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone; nothing to clean up.
    }
  }
  live.clear();
}

/** Track a child until it exits; it is killed if this process exits first. */
export function reap(child: ChildProcess): ChildProcess {
  if (!hooked) {
    process.on('exit', killAll);
    hooked = true;
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => {
    if (child.exitCode !== null || child.pid === undefined) live.delete(child);
  });
  return child;
}

export function liveChildren(): number {
  return live.size;
}

/** SIGTERM, then SIGKILL once `graceMs` has passed; resolves when the child has exited. */
export function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  });
}
