// `hearth up` as a child process, so a test can SIGKILL it like a crashed
// gateway. Each child leads its own process group: the runtimes it started
// can be cleaned up with it after the kill.
import { spawn, type ChildProcess } from 'node:child_process';
import { killQuietly } from './support.js';

export interface ChildPlatform {
  url: string;
  child: ChildProcess;
  /** SIGKILL of the gateway process alone, as a crash would be. */
  crash(): Promise<void>;
  /** SIGKILL of everything it started. */
  killAll(): void;
  /** What it has logged so far (pino's JSON lines on stdout, the last MB). */
  logs(): string;
  /** What it has written to stderr (the banner and its warnings). */
  stderr(): string;
}

/** A machine without a function sandbox, for suites whose functions must write to the host's files (HEARTH_BWRAP names no bwrap). */
export const NO_SANDBOX_ENV: NodeJS.ProcessEnv = { ...process.env, HEARTH_BWRAP: '/nonexistent/bwrap' };

export async function startChildPlatform(args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = process.env): Promise<ChildPlatform> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'up', '--log-level', 'warn', ...args], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Read even when no test looks, so a chatty child never blocks on a full pipe.
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout = (stdout + d.toString()).slice(-1_000_000);
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hearth up did not start: ${stderr}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /Hearth is up at (http:\/\/\S+)/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`hearth up exited (${code}): ${stderr}`));
    });
  });
  return {
    url,
    child,
    crash: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    killAll: () => killQuietly(child.pid === undefined ? undefined : -child.pid),
    logs: () => stdout,
    stderr: () => stderr,
  };
}
