// Servers a test starts (redis-server, the Kafka broker's JVM) die with the
// test runner: a runner that exits, even without its afterAll hooks, must
// not leave them behind.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hookInstalled = false;

/** SIGKILLs `p` when this process exits, unless it has exited first. */
export function killOnExit(p: ChildProcess): void {
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  live.add(p);
  p.once('exit', () => live.delete(p));
}
