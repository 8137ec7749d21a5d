// `hearth logs NAME` reads the log files the embedded platform's function
// logs write (FunctionLogFiles), and with --follow keeps printing across
// rotations. The command runs as a real child process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FunctionLogFiles } from '../../src/backends/local/function-log.js';
import { waitFor } from '../helpers/wait.js';

const children: Array<{ kill(): boolean }> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

const hearth = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'logs', ...args], { encoding: 'utf8', env, timeout: 30_000 });

async function write(logs: FunctionLogFiles, name: string, lines: string[]): Promise<void> {
  const sink = logs.sink(name);
  for (const line of lines) if (!sink.write({ functionName: name, line, stream: 'stdout', cutBytes: 0 })) await sink.drained();
  await sink.drained();
}

const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${String(from + i).padStart(5, '0')} ${'z'.repeat(50)}`);

it('prints the last lines across rotated files, from $XDG_CACHE_HOME by default', { timeout: 60_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'hearth-logs-cmd-'));
  const logs = new FunctionLogFiles(join(cache, 'hearth', 'local', 'logs'), { maxFileBytes: 64 * 1024, files: 3 });
  await write(logs, 'fn', numbered(0, 2000)); // about 130 KB: NAME.log.2, .1 and NAME.log
  await logs.close();
  const env = { ...process.env, XDG_CACHE_HOME: cache };
  const r = hearth(['fn', '--lines', '1500'], env);
  expect(r.status).toBe(0);
  expect(r.stdout.trimEnd().split('\n')).toEqual(numbered(500, 2000));
  expect(hearth(['fn', '-n', '1'], env).stdout).toBe(`${numbered(1999, 2000)[0] ?? ''}\n`);
  const missing = hearth(['other'], env);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toContain('no log for other');
});

it('--follow prints what comes next, across rotations, in order', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-logs-follow-'));
  const logs = new FunctionLogFiles(dir, { maxFileBytes: 16 * 1024, files: 2 });
  await write(logs, 'fn', numbered(0, 10));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'logs', 'fn', '--follow', '--dir', dir, '-n', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the first lines', async () => out.includes(numbered(9, 10)[0] ?? '?'), 30_000);
  // Slowly enough that the follower sees each file before it rotates away (a file holds about 250 lines).
  for (let i = 10; i < 1010; i += 50) {
    await write(logs, 'fn', numbered(i, i + 50));
    await new Promise((r) => setTimeout(r, 250));
  }
  await waitFor('every line', async () => out.includes(numbered(1009, 1010)[0] ?? '?'), 30_000);
  expect(out.trimEnd().split('\n')).toEqual(numbered(0, 1010));
  await logs.close();
});
