// What the sandbox of a local instance holds, decided from the prepared
// command (pure), and the backend's sandbox launcher, made once per backend
// from what the machine offers.
//
// Inside, the task root is /var/task, the runtime's own directory
// /var/runtime and layers /opt, as on Lambda; a runtime command's paths are
// rewritten to those. An interpreter outside /usr (pyenv's has a RUNPATH into
// its own prefix) and a command's files that are elsewhere (a test's runtime
// script) are shown read-only at the same path.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { insidePath, OPT_DIR, RUNTIME_DIR, TASK_DIR } from '../../sandbox/bwrap-args.js';
import { SandboxLauncher } from '../../sandbox/sandbox-launcher.js';
import { probeSandbox, type SandboxSupport } from '../../sandbox/support.js';
import type { Command, RuntimeFamily } from './runtime-command.js';

export const SETPRIV = '/usr/bin/setpriv';

export interface SandboxView {
  /** The command and its arguments as paths inside the sandbox. */
  command: string;
  args: string[];
  /** Host directory shown at /var/runtime (the script runtime's directory, or a built binary's). */
  runtimeDir?: string;
  /** Host paths shown at the same path. */
  samePath: string[];
}

export interface PlanInput {
  family: RuntimeFamily;
  command: Command;
  taskRoot: string;
  /** runtimes/<family> of the repository. */
  runtimeDir: string;
  /** Resolves symlinks of a path (realpath; injectable for tests). */
  realpath?: (p: string) => string;
  /** Whether a host path exists and is a directory (undefined: does not exist). */
  kind?: (p: string) => 'file' | 'dir' | undefined;
}

function hostKind(p: string): 'file' | 'dir' | undefined {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

/** The sandbox's view of a prepared runtime command. */
export function planSandbox(i: PlanInput): SandboxView {
  const realpath = i.realpath ?? ((p: string) => (existsSync(p) ? realpathSync(p) : p));
  const kind = i.kind ?? hostKind;
  const samePath: string[] = [];
  const native = i.family === 'go' || i.family === 'provided';
  if (native) {
    const bin = i.command.command;
    const inTask = insidePath(bin, [{ host: i.taskRoot, inside: TASK_DIR }]);
    // A binary built outside the task root (a Go build in the cache) is the runtime itself: /var/runtime/bootstrap.
    if (inTask !== undefined) return { command: inTask, args: [...i.command.args], samePath };
    return { command: `${RUNTIME_DIR}/${bin.slice(dirname(bin).length + 1)}`, args: [...i.command.args], runtimeDir: dirname(bin), samePath };
  }
  const mounts = [
    { host: i.taskRoot, inside: TASK_DIR },
    { host: i.runtimeDir, inside: RUNTIME_DIR },
  ];
  const interpreter = i.command.command;
  if (isAbsolute(interpreter) && !under(interpreter, '/usr')) {
    // bin/python3 → its prefix, where its libraries and standard library are.
    const real = realpath(interpreter);
    samePath.push(dirname(dirname(real)));
    if (real !== interpreter) samePath.push(dirname(dirname(interpreter)));
  }
  const args = i.command.args.map((a) => {
    if (!isAbsolute(a)) return a;
    const inside = insidePath(a, mounts);
    if (inside !== undefined) return inside;
    const k = kind(a);
    // A script of its own (a test's runtime): its directory, so that what it imports beside it is there too.
    if (k === 'file') samePath.push(dirname(a));
    else if (k === 'dir') samePath.push(a);
    return a;
  });
  return { command: interpreter, args, runtimeDir: i.runtimeDir, samePath: [...new Set(samePath)] };
}

/** Inside paths for the instance environment (LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, the layers' variables). */
export const INSIDE = { taskRoot: TASK_DIR, runtimeDir: RUNTIME_DIR, optDir: OPT_DIR } as const;

/** The LocalBackend option: off, required, a probe's result (hearth up probes once), or (undefined) on when this machine can. */
export type SandboxOption = boolean | SandboxSupport;

let probed: Promise<SandboxSupport> | undefined;

/** The machine's answer, asked once per process (a probe runs bwrap). */
function probeOnce(): Promise<SandboxSupport> {
  probed ??= probeSandbox();
  return probed;
}

/** The launcher for a backend's instances, or undefined when they run without a sandbox. */
export async function makeSandboxLauncher(option: SandboxOption | undefined, stagingDir: string, logger: Logger): Promise<SandboxLauncher | undefined> {
  if (option === false) return undefined;
  let support = typeof option === 'object' ? option : await probeOnce();
  // As root, the drop to the sandbox's own user is setpriv's; without it the function would be root.
  if (support.enabled && support.perInstanceUser && !existsSync(SETPRIV)) support = { ...support, enabled: false, reason: `${SETPRIV} (util-linux) is missing` };
  if (!support.enabled) {
    if (option === true) throw new Error(`the local backend was asked for a sandbox, but none can be made here: ${support.reason ?? 'unknown reason'}`);
    logger.warn({ reason: support.reason }, 'functions run without a sandbox');
    return undefined;
  }
  return new SandboxLauncher({ support, stagingDir, setpriv: SETPRIV, logger });
}
