// A runtime the agent did not start: in a pod, the runtime container beside
// the agent's. With the pod's process namespace shared, the agent can still
// see it in /proc (a process in the agent's own network namespace whose
// AWS_LAMBDA_RUNTIME_API names this agent), notice when it dies mid-invocation
// and kill it when an invocation overruns, so the kubelet starts a fresh one.
// The periodic scan alone would miss a runtime that dies on its first
// invocation before any scan saw it (the invocation then hung until its
// timeout): confirm() scans at once when a new runtime first asks for work,
// while it is certainly alive and waiting, so it is known before anything it
// could die of is handed over. Warm invocations cost no scan.
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface RuntimePeer {
  /** Calls onExit each time the runtime's processes are replaced or gone. */
  watch(onExit: () => void): void;
  /**
   * Called when a new runtime first asks for work (its first /next): resolves
   * once a scan has seen its processes, so that their death is reported even
   * if it comes before the next periodic scan. Undefined when they are
   * already known (no scan: this is on the way to a hand-over).
   */
  confirm(): Promise<void> | undefined;
  /** Kills the runtime's processes (SIGKILL: Lambda throws a timed-out environment away). */
  kill(): Promise<void>;
  stop(): void;
}

/** Whether a process's NUL-separated environment points at this Runtime API. Pure. */
export function environNamesRuntimeApi(environ: Buffer, runtimeApi: string): boolean {
  const want = `AWS_LAMBDA_RUNTIME_API=${runtimeApi}`;
  return environ.toString('utf8').split('\0').includes(want);
}

async function netnsOf(pid: number | 'self'): Promise<string | undefined> {
  return readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
}

/** The pids of processes in this network namespace that talk to runtimeApi. */
export async function findRuntimePids(runtimeApi: string): Promise<number[]> {
  const own = await netnsOf('self');
  if (own === undefined) return [];
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if ((await netnsOf(pid)) !== own) continue;
    const environ = await readFile(`/proc/${pid}/environ`).catch(() => undefined);
    if (environ !== undefined && environNamesRuntimeApi(environ, runtimeApi)) pids.push(pid);
  }
  return pids;
}

export function procRuntimePeer(runtimeApi: string, opts: { pollMs?: number } = {}): RuntimePeer {
  let seen = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  let onExit: (() => void) | undefined;
  /** The scan under way, if any: scans run one at a time so their view of `seen` is never interleaved. */
  let running: Promise<void> | undefined;

  const scanOnce = async (): Promise<void> => {
    const pids = await findRuntimePids(runtimeApi);
    // Gone when none of the processes seen last time remain, even if the
    // kubelet already started new ones; a bootstrap script's short children
    // come and go beside a parent that stays.
    const gone = seen.size > 0 && ![...seen].some((pid) => pids.includes(pid));
    seen = new Set(pids);
    if (gone) onExit?.();
  };
  /** A scan that starts after the one under way (whose readdir may predate the runtime) has ended. */
  const scanAfter = (): Promise<void> => {
    const scan = (running ?? Promise.resolve()).then(scanOnce).catch(() => undefined);
    running = scan;
    void scan.finally(() => {
      if (running === scan) running = undefined;
    });
    return scan;
  };

  return {
    watch(listener) {
      onExit = listener;
      timer = setInterval(() => {
        if (running === undefined) void scanAfter();
      }, opts.pollMs ?? 200);
      timer.unref();
    },
    confirm() {
      return seen.size > 0 ? undefined : scanAfter();
    },
    async kill() {
      for (const pid of await findRuntimePids(runtimeApi)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone, or not ours to signal: either way it no longer serves.
        }
      }
    },
    stop() {
      clearInterval(timer);
    },
  };
}
