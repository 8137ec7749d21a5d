// A real S3-compatible store for tests: versitygw (Apache-2.0) serving a temp
// directory on a loopback port, built once into ~/.cache/hearth by
// build-versitygw.sh (make test-unit starts that build beside the unit suites).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.js';
import { runBuildScript } from '../servers/build-script.js';

const script = fileURLToPath(new URL('./build-versitygw.sh', import.meta.url));

/** The binary's path, or why there is none (only outside CI: under CI=true a failed build fails). */
export function buildVersitygw(): Promise<{ bin: string } | { skip: string }> {
  return runBuildScript(script);
}

export interface Versitygw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** Kills it and starts it again on the same port over the same directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** args: further flags before the backend (e.g. --event-webhook-url URL, whose receiver must answer first: versitygw exits when its test event fails). */
export async function startVersitygw(bin: string, opts: { args?: readonly string[] } = {}): Promise<Versitygw> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hearth-versitygw-'));
  const accessKeyId = 'hearthtest';
  const secretAccessKey = 'hearth-test-secret-key';
  let proc: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    const p = spawn(bin, ['--access', accessKeyId, '--secret', secretAccessKey, '--port', `127.0.0.1:${port}`, ...(opts.args ?? []), 'posix', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    p.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    let exited = false;
    p.once('exit', () => (exited = true));
    const deadline = Date.now() + 15_000;
    while (!(await answers(port))) {
      if (exited) throw new Error(`versitygw exited at start: ${output}`);
      if (Date.now() > deadline) throw new Error(`versitygw did not listen on ${port}: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const halt = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  process.once('exit', () => proc?.kill('SIGKILL'));
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId,
    secretAccessKey,
    dir,
    restart: async () => {
      await halt();
      await start();
    },
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
