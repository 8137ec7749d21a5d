// Where a warm-pool pod's agent and its runtime container meet. The agent
// (`hearth agent --pool`) writes the function's code into the task root and
// /opt, then gives the waiting runtime its environment as one line of JSON
// (runtimes/README.md, HEARTH_SPECIALIZE=stdin) through a FIFO in a small
// shared directory; it also saves that line there as env.json, so a runtime
// container the kubelet restarts after the claim starts as the function at
// once. The controller builds the pool pod from these; no heavy imports here.

/** Where the agent writes the function's code (the runtime mounts it read-only at the same path). */
export const POOL_TASK_ROOT = '/var/task';
/** Where the agent unpacks layers (read-only in the runtime container). */
export const POOL_OPT_DIR = '/opt';
/** The directory shared by the agent and the runtime container (an emptyDir of medium Memory). */
export const POOL_SPECIALIZE_DIR = '/hearth/specialize';
export const POOL_FIFO_NAME = 'runtime.fifo';
/** The specialisation line as saved for a restarted runtime container (mode 0600). */
export const POOL_SAVED_ENV_NAME = 'env.json';
/** What the agent was made (function, memory, timeout, concurrency), for an agent container restarted after the claim. */
export const POOL_SAVED_AGENT_NAME = 'agent.json';
/** The agent's default for --specialize-fifo. */
export const POOL_FIFO = `${POOL_SPECIALIZE_DIR}/${POOL_FIFO_NAME}`;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The runtime container's `sh -c` script, run as
 * `['/bin/sh', '-c', poolRuntimeScript(dir), 'pool-runtime', ...imageCommand]`.
 * After a claim (env.json saved) it starts the runtime reading its line from
 * that file; before, it makes the FIFO if missing and starts the runtime
 * with the FIFO opened read-write on fd 0, which never blocks, so the
 * interpreter starts and imports its runtime client, then waits for its line.
 */
export function poolRuntimeScript(dir: string = POOL_SPECIALIZE_DIR): string {
  const s = shellQuote(`${dir}/${POOL_SAVED_ENV_NAME}`);
  const f = shellQuote(`${dir}/${POOL_FIFO_NAME}`);
  return `s=${s}; f=${f}; if [ -f "$s" ]; then exec "$@" <"$s"; fi; [ -p "$f" ] || mkfifo -m 600 "$f"; exec "$@" 0<>"$f"`;
}

/**
 * The runtime container's whole environment in a pool pod, nothing of any
 * function: the specialisation protocol; the Runtime API's address, which is
 * how the agent (sharing the pod's process namespace) recognises the
 * runtime's processes in /proc to kill one that overran its deadline (a
 * variable merged in later never shows in /proc/PID/environ); and the
 * library path Lambda's own environments start with, because the dynamic
 * loader reads LD_LIBRARY_PATH only when a process starts, before the
 * function's layers under /opt/lib or libraries under /var/task/lib exist.
 */
export function poolRuntimeEnv(runtimeApi: string, dirs: { taskRoot?: string; optDir?: string } = {}): Record<string, string> {
  const task = dirs.taskRoot ?? POOL_TASK_ROOT;
  const opt = dirs.optDir ?? POOL_OPT_DIR;
  return {
    HEARTH_SPECIALIZE: 'stdin',
    AWS_LAMBDA_RUNTIME_API: runtimeApi,
    LD_LIBRARY_PATH: `${task}:${task}/lib:${opt}/lib`,
  };
}
