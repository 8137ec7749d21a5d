// AWS's runtime interface emulator with AWS's Python runtime client
// (awslambdaric) as the baseline for the agent's HTTP round trip. Neither
// is committed: both are built into ~/.cache/hearth at bench time.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { reap, terminate } from '../src/agent/process-reaper.js';

const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hearth');
/** Where bench-time builds of baselines live (agent-queue-proxy.ts uses it too). */
export const BIN = join(CACHE, 'bin');
// Pinned (the module has no tags, so a pseudo-version), so the baseline does not drift between runs.
const RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';
const RIE = join(BIN, `aws-lambda-rie-${RIE_VERSION}`);
const VENV = join(CACHE, 'rie-venv');

/** Runs a build step to completion; throws with the tail of its output when it fails. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).slice(-500)}`);
}

/** Builds the emulator and the Python client if missing; throws with the reason when it cannot. */
export function ensureRie(python: string): { rie: string; python: string } {
  mkdirSync(BIN, { recursive: true });
  if (!existsSync(RIE)) {
    run('go', ['install', `github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${RIE_VERSION}`], { ...process.env, GOBIN: BIN, GOTOOLCHAIN: 'local', GOFLAGS: '' });
    renameSync(join(BIN, 'aws-lambda-rie'), RIE);
  }
  const venvPython = join(VENV, 'bin', 'python');
  if (!existsSync(venvPython)) run(python, ['-m', 'venv', VENV]);
  if (spawnSync(venvPython, ['-c', 'import awslambdaric']).status !== 0) run(venvPython, ['-m', 'pip', 'install', '-q', 'awslambdaric']);
  return { rie: RIE, python: venvPython };
}

export interface RieProcess {
  url: string;
  close(): Promise<void>;
}

/** Starts the emulator running `handler` from `taskRoot`, and waits until it answers. */
export async function startRie(taskRoot: string, handler: string, port: number, python: string): Promise<RieProcess> {
  const child: ChildProcess = reap(
    spawn(RIE, ['--runtime-interface-emulator-address', `127.0.0.1:${port}`, '--log-level', 'error', python, '-m', 'awslambdaric', handler], {
      cwd: taskRoot,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LAMBDA_TASK_ROOT: taskRoot, AWS_LAMBDA_FUNCTION_TIMEOUT: '3' },
      stdio: ['ignore', 'ignore', 'ignore'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{}' });
      return { url, close: () => terminate(child, 1000) };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await terminate(child, 0);
  throw new Error('the emulator did not answer within 5 s');
}
