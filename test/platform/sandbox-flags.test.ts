// `hearth up` where no function sandbox can be made (simulated with
// HEARTH_BWRAP naming a missing binary): it refuses --credentials and a
// non-loopback bind unless told --insecure-no-sandbox, then warns at start and
// shows it in /readyz; on this machine, where bubblewrap works, /readyz shows
// the sandbox it found.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { probeSandbox } from '../../src/sandbox/support.js';
import { NO_SANDBOX_ENV, startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';

const run = promisify(execFile);

function workDir(): { dir: string; credentials: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sandbox-flags-'));
  const credentials = join(dir, 'credentials.yaml');
  writeFileSync(credentials, stringify({ callers: [{ name: 'ci', apiKey: 'a-key-of-sixteen-chars-or-more', functions: ['*'] }] }));
  return { dir, credentials };
}

async function upExits(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'up', '--port', '0', '--warm-pool', '0', ...args], { env, timeout: 60_000 });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

const running: ChildPlatform[] = [];
afterEach(async () => {
  for (const up of running.splice(0)) {
    await up.crash();
    up.killAll();
  }
});

/** Starts `hearth up` and waits for its banner; its logs (stdout) and banner (stderr) stay readable. */
async function upRunning(args: string[], env: NodeJS.ProcessEnv): Promise<ChildPlatform> {
  const up = await startChildPlatform(['--port', '0', '--warm-pool', '0', ...args], 60_000, env);
  running.push(up);
  return up;
}

async function readyz(url: string): Promise<{ status: string; details?: { sandbox?: Record<string, unknown> } }> {
  const res = await fetch(`${url}/readyz`);
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; details?: { sandbox?: Record<string, unknown> } };
}

describe('hearth up without a sandbox', () => {
  it('refuses --credentials and a non-loopback bind, naming why and the way out', async () => {
    const { dir, credentials } = workDir();
    const withCredentials = await upExits(['--dir', dir, '--credentials', credentials], NO_SANDBOX_ENV);
    expect(withCredentials.code).toBe(2);
    expect(withCredentials.stderr).toContain('hearth up: no function sandbox can be made here (bubblewrap not found at /nonexistent/bwrap (HEARTH_BWRAP))');
    expect(withCredentials.stderr).toContain('with --credentials, functions could read the credentials file');
    expect(withCredentials.stderr).toContain('pass --insecure-no-sandbox to start anyway');
    const wide = await upExits(['--dir', dir, '--host', '0.0.0.0', '--no-auth'], NO_SANDBOX_ENV);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toContain('with a non-loopback --host');
  }, 120_000);

  it('starts with --insecure-no-sandbox, warns once at start, runs functions as plain processes and shows it in /readyz', async () => {
    const { dir, credentials } = workDir();
    copyFileSync('examples/hello-python.yaml', join(dir, 'hello-python.yaml'));
    const up = await upRunning(['--dir', dir, '--credentials', credentials, '--insecure-no-sandbox'], NO_SANDBOX_ENV);
    const call = await fetch(`${up.url}/2015-03-31/functions/hello-python/invocations`, { method: 'POST', body: '{}', headers: { 'x-api-key': 'a-key-of-sixteen-chars-or-more' } });
    expect(call.status).toBe(200);
    // The backend takes hearth up's probe: no second warning of its own when the function starts.
    expect(up.logs().split('\n').filter((l) => /without a sandbox/i.test(l))).toHaveLength(1);
    const body = await readyz(up.url);
    expect(body.status).toBe('ok');
    expect(body.details?.sandbox).toMatchObject({ enabled: false, perInstanceUser: false, insecureNoSandbox: true, reason: 'bubblewrap not found at /nonexistent/bwrap (HEARTH_BWRAP)' });
    const warnings = up
      .logs()
      .split('\n')
      .filter((l) => l.includes('functions run WITHOUT a sandbox'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string)).toMatchObject({ level: 40, sandbox: { enabled: false, insecureNoSandbox: true } });
    expect(up.stderr()).toContain('warning: functions run WITHOUT a sandbox');
  }, 120_000);

  it('starts on loopback without credentials (the developer machine), with the warning', async () => {
    const { dir } = workDir();
    const up = await upRunning(['--dir', dir], NO_SANDBOX_ENV);
    const body = await readyz(up.url);
    expect(body.details?.sandbox).toMatchObject({ enabled: false });
    expect(body.details?.sandbox).not.toHaveProperty('insecureNoSandbox');
    expect(up.logs()).toContain('functions run WITHOUT a sandbox');
  }, 120_000);
});

describe('hearth up with a sandbox', () => {
  it('shows the sandbox it found in /readyz and starts with --credentials without being told anything', async () => {
    const { dir, credentials } = workDir();
    const expected = await probeSandbox();
    expect(expected.enabled).toBe(true);
    const up = await upRunning(['--dir', dir, '--credentials', credentials], process.env);
    const body = await readyz(up.url);
    expect(body.details?.sandbox).toEqual({
      enabled: true,
      memory: expected.memory,
      perInstanceUser: process.getuid?.() === 0,
      ...(expected.memoryReason !== undefined ? { memoryReason: expected.memoryReason } : {}),
    });
    expect(up.logs()).not.toContain('WITHOUT a sandbox');
  }, 120_000);
});
