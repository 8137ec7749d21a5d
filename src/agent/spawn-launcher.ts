// The simplest way to give an agent its runtime: spawn a command with an
// environment that points it at the agent's Runtime API.
import { spawn, type ChildProcess } from 'node:child_process';
import { reap } from './process-reaper.js';

/** How an agent gets (and after a crash or timeout, gets again) its runtime process. */
export interface RuntimeLauncher {
  /** Start the runtime so that it talks to the Runtime API at `runtimeApi` (host:port). */
  launch(runtimeApi: string): ChildProcess | Promise<ChildProcess>;
  /** Why a launched process ended, when the launcher knows more than its exit status: 'oom' for a kill by its memory limit. */
  exitCause?(proc: ChildProcess): 'oom' | undefined;
}

export interface SpawnSpec {
  command: string;
  args: readonly string[];
  /** The complete environment; nothing is inherited that is not listed here. */
  env: Readonly<Record<string, string>>;
  cwd?: string;
}

export function spawnRuntime(spec: SpawnSpec): ChildProcess {
  return reap(
    spawn(spec.command, spec.args, {
      env: { ...spec.env },
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: false,
    }),
  );
}

export function spawnLauncher(spec: SpawnSpec): RuntimeLauncher {
  return { launch: (runtimeApi) => spawnRuntime({ ...spec, env: { ...spec.env, AWS_LAMBDA_RUNTIME_API: runtimeApi } }) };
}
