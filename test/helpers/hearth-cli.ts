// Runs the `hearth` command from this checkout (through tsx) as a user would,
// and keeps its exit code and output whatever it is, for tests that assert
// on failures as much as on successes.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

export interface HearthRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HearthRunOptions {
  /** HEARTH_URL: the gateway the command talks to. */
  url?: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

// Absolute paths, so a test may run the command in any working directory (hearth init writes there).
const TSX = resolve('node_modules/.bin/tsx');
const MAIN = resolve('src/cli/main.ts');

export function runHearth(opts: HearthRunOptions, ...args: string[]): Promise<HearthRun> {
  const env = { ...process.env, ...opts.env, ...(opts.url !== undefined ? { HEARTH_URL: opts.url } : {}) };
  return new Promise((done) => {
    execFile(TSX, [MAIN, ...args], { env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      done({ code, stdout, stderr });
    });
  });
}
