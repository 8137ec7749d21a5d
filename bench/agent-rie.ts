// AWS's runtime interface emulator with AWS's Python runtime client
// (awslambdaric) as the baseline for the agent's HTTP round trip. Neither
// is committed: both are built into ~/.cache/hearth at bench time.
import { spawn, spawnSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { reap } from '../src/agent/process-reaper.js';
import { CACHE, goInstall, ready, run, type HttpProcess } from './baseline-process.js';

// Pinned (the module has no tags, so a pseudo-version), so the baseline does not drift between runs.
const RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';
const VENV = join(CACHE, 'rie-venv');
export const RIE_INVOKE_PATH = '/2015-03-31/functions/function/invocations';

/** Builds the emulator and the Python client if missing; throws with the reason when it cannot. */
export function ensureRie(python: string): { rie: string; python: string } {
  const rie = goInstall('github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie', RIE_VERSION, 'aws-lambda-rie');
  const venvPython = join(VENV, 'bin', 'python');
  if (spawnSync(venvPython, ['-c', 'import awslambdaric']).status !== 0) {
    // Made whole in a scratch directory and renamed into place: a bench running
    // beside this one must never take a half-made venv (one without pip yet) for a finished one.
    const scratch = `${VENV}.build-${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    try {
      run(python, ['-m', 'venv', scratch]);
      run(join(scratch, 'bin', 'python'), ['-m', 'pip', 'install', '-q', 'awslambdaric']);
      rmSync(VENV, { recursive: true, force: true });
      renameSync(scratch, VENV);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { rie, python: venvPython };
}

/** Starts the emulator (`rie`, from ensureRie) running `handler` from `taskRoot`, and waits until it answers. */
export async function startRie(rie: string, taskRoot: string, handler: string, port: number, python: string): Promise<HttpProcess & { pid: number | undefined }> {
  const child = reap(
    spawn(rie, ['--runtime-interface-emulator-address', `127.0.0.1:${port}`, '--log-level', 'error', python, '-m', 'awslambdaric', handler], {
      cwd: taskRoot,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LAMBDA_TASK_ROOT: taskRoot, AWS_LAMBDA_FUNCTION_TIMEOUT: '3' },
      stdio: ['ignore', 'ignore', 'ignore'],
    }),
  );
  const proc = await ready(child, `http://127.0.0.1:${port}`, { what: 'the emulator', graceMs: 1000, timeoutMs: 5_000, path: RIE_INVOKE_PATH });
  // The emulator's pid, so the bench can count its CPU (and its runtime's, a child of it).
  return { url: proc.url, close: () => proc.close(), pid: child.pid };
}
