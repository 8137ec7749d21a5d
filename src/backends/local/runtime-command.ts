// Which command runs a function's runtime on this machine. Paths are found
// from this module's location so the same code works from src (tsx) and
// from dist (tsc output mirrors src), the runtimes directory being at the
// repository root either way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../api/function.js';

export type RuntimeFamily = 'python' | 'nodejs' | 'go' | 'provided';

export function runtimeFamily(runtime: Runtime): RuntimeFamily {
  if (runtime.startsWith('python')) return 'python';
  if (runtime.startsWith('nodejs')) return 'nodejs';
  return runtime === 'go' ? 'go' : 'provided';
}

/** The nearest ancestor of `from` holding both package.json and runtimes/. */
export function findRepoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'runtimes'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find Hearth's runtimes directory above ${from}`);
  }
}

const pythonCache = new Map<string, string | undefined>();

/** Absolute path of a Python interpreter, or undefined if `name` does not run here (pyenv shims may exist without one). */
export function whichPython(name: string): string | undefined {
  if (!pythonCache.has(name)) {
    const r = spawnSync(name, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', timeout: 10_000 });
    const path = r.status === 0 ? r.stdout.trim() : '';
    pythonCache.set(name, path !== '' ? path : undefined);
  }
  return pythonCache.get(name);
}

/** python3.12 asks for exactly that interpreter when one exists; otherwise python3 serves. */
export function pythonFor(runtime: Runtime): string {
  const exact = whichPython(runtime);
  const fallback = exact ?? whichPython('python3');
  if (fallback === undefined) throw new Error(`runtime ${runtime}: neither ${runtime} nor python3 runs on this machine`);
  return fallback;
}

export interface Command {
  command: string;
  args: string[];
}

/** The interpreter command for the families run from a script (python, nodejs). */
export function scriptRuntimeCommand(runtime: Runtime, repoRoot: string): Command {
  const family = runtimeFamily(runtime);
  if (family === 'python') return { command: pythonFor(runtime), args: [join(repoRoot, 'runtimes/python/bootstrap.py')] };
  if (family === 'nodejs') return { command: process.execPath, args: [join(repoRoot, 'runtimes/nodejs/bootstrap.mjs')] };
  throw new Error(`runtime ${runtime} is not run from a script`);
}
