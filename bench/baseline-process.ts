// Building and starting the baseline programs the benchmarks measure Hearth
// beside (AWS's emulator, Knative's queue-proxy, a plain HTTP server). None
// is committed: Go programs are built into ~/.cache/hearth at bench time,
// pinned and named by their version, so a baseline does not drift between
// runs and moving a pin builds afresh.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { terminate } from '../src/agent/process-reaper.js';

export const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hearth');
const BIN = join(CACHE, 'bin');
const TRY_EVERY_MS = 50;

/** Runs a build step to completion; throws with the tail of its output when it fails. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).slice(-500)}`);
}

/**
 * `go install pkg@version` with the machine's Go, unless already built, into
 * the cache as `name-version`; returns its path. `go install` names a binary
 * after its package (queue-proxy's is "queue", which says nothing in a shared
 * directory), so it builds into a scratch GOBIN and is renamed into place:
 * a half-built binary is never taken for a finished one.
 */
export function goInstall(pkg: string, version: string, name: string): string {
  const dest = join(BIN, `${name}-${version}`);
  if (existsSync(dest)) return dest;
  const scratch = join(BIN, `.build-${name}-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  try {
    // GOTOOLCHAIN=local: build with the Go on this machine rather than download the one a go.mod asks for.
    run('go', ['install', `${pkg}@${version}`], { ...process.env, GOBIN: scratch, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '' });
    renameSync(join(scratch, pkg.split('/').pop() ?? name), dest);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return dest;
}

export interface HttpProcess {
  url: string;
  close(): Promise<void>;
}

/**
 * Polls `url` + `path` with the benchmarks' request (POST '{}') until it is
 * answered 200, and returns the process, to be stopped with `graceMs` of
 * grace. Gives up, with the last line the process printed on stderr (when it
 * is piped), once it exits or after `timeoutMs`.
 */
export async function ready(child: ChildProcess, url: string, opts: { what: string; graceMs: number; timeoutMs: number; path?: string }): Promise<HttpProcess> {
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  let last = 'no answer';
  for (let i = 0; i < opts.timeoutMs / TRY_EVERY_MS; i++) {
    if (spawnError !== undefined || child.exitCode !== null || child.signalCode !== null) break;
    try {
      const res = await fetch(`${url}${opts.path ?? ''}`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return { url, close: () => terminate(child, opts.graceMs) };
      last = `answered ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, TRY_EVERY_MS));
  }
  await terminate(child, 0);
  const how =
    spawnError !== undefined ? `could not start: ${spawnError.message}` : child.exitCode !== null ? `exited ${child.exitCode}` : `did not answer 200 within ${opts.timeoutMs / 1000} s (${last})`;
  throw new Error([`${opts.what} ${how}`, lastLogLine(stderr)].filter((w) => w !== '').join(': '));
}

// queue-proxy logs one JSON object a line, with a stack trace; the reason is its `error` (or `message`).
function lastLogLine(stderr: string): string {
  const line = stderr.trim().split('\n').pop() ?? '';
  try {
    const entry = JSON.parse(line) as { error?: unknown; message?: unknown };
    const reason = typeof entry.error === 'string' ? entry.error : entry.message;
    if (typeof reason === 'string') return reason;
  } catch {
    // Not JSON: a plain line such as envconfig's "required key ... missing value" or a Python traceback's last line.
  }
  return line.slice(0, 300);
}
