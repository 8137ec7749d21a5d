// `hearth logs` through the gateway of the embedded platform (hearth up): a
// function's lines with their times, --since, a version's and an alias's
// lines, an unknown function, and --follow printing a new invocation's lines
// as they are written (measured: the wait for them is bounded by a second
// after the invocation returns, and the time taken printed). --dir reads the
// same files without a gateway, following them across rotations. Every
// command runs as a real child process.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FunctionLogFiles } from '../../src/backends/local/function-log.js';
import { parseStampedLine } from '../../src/logs/log-lines.js';
import { runHearth } from '../helpers/hearth-cli.js';
import { py, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;
type Child = ChildProcessByStdio<null, Readable, Readable>;

const TSX = resolve('node_modules/.bin/tsx');
const MAIN = resolve('src/cli/main.ts');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /gm;

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

/** `hearth logs ARGS` left running (for --follow), its output gathered as it comes. */
function follower(env: Record<string, string>, ...args: string[]): { child: Child; out: () => string; exited: Promise<number | null> } {
  const child = spawn(TSX, [MAIN, 'logs', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

const talker = py(`def handler(event, context):
    print(event["say"], flush=True)
    return {"said": event["say"]}
`);

describe('hearth logs through the embedded gateway', () => {
  let platform: Platform;
  let cacheDir: string;
  const hearth = (...args: string[]) => runHearth({ url: platform.url }, 'logs', ...args);
  const invoke = async (target: string, say: string): Promise<void> => {
    const res = await request(`${platform.url}/2015-03-31/functions/${encodeURIComponent(target)}/invocations`, { method: 'POST', body: JSON.stringify({ say }) });
    expect(res.statusCode, await res.body.text()).toBe(200);
  };
  const control = async (method: 'POST' | 'PUT', path: string, body: unknown): Promise<void> => {
    const res = await request(`${platform.url}${path}`, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode, await res.body.text()).toBeLessThan(300);
  };

  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'hearth-logs-cmd-'));
    platform = await startPlatform({ talker }, { backend: { cacheDir } });
  }, 120_000);
  afterAll(async () => {
    await platform?.close();
  });

  it('prints the last lines, each with the time it was written; --since keeps the newer ones', { timeout: 120_000 }, async () => {
    await invoke('talker', 'first words');
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await invoke('talker', 'second words');
    const all = await hearth('talker');
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.replace(ISO, ''))).toEqual(['first words', 'second words']);
    for (const l of lines) expect(Math.abs((parseStampedLine(l).timeMs ?? 0) - Date.now())).toBeLessThan(120_000);
    expect((await hearth('talker', '-n', '1')).stdout.replace(ISO, '')).toBe('second words\n');
    const since = await hearth('talker', '--since', between);
    expect(since.stdout.replace(ISO, '')).toBe('second words\n');
    expect((await hearth('talker', '--since', '10m')).stdout.trimEnd().split('\n')).toHaveLength(2);
    const bad = await hearth('talker', '--since', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since takes a duration');
  });

  it("a qualifier shows only its versions' lines: a version, $LATEST, an alias", { timeout: 120_000 }, async () => {
    await control('POST', '/2015-03-31/functions/talker/versions', {});
    await control('POST', '/2015-03-31/functions/talker/aliases', { Name: 'live', FunctionVersion: '1' });
    await invoke('talker:1', 'from version one');
    await invoke('talker', 'from latest');
    // Only the lines of the versions asked for (a runtime's own lines, such as a reconnect, may be among them).
    const one = await hearth('talker:1');
    expect(one.code, one.stderr).toBe(0);
    const oneLines = one.stdout.replace(ISO, '').trimEnd().split('\n');
    expect(oneLines).toContain('[1] from version one');
    for (const l of oneLines) expect(l).toMatch(/^\[1\] /);
    const live = (await hearth('talker', '--qualifier', 'live')).stdout.replace(ISO, '').trimEnd().split('\n');
    expect(live).toEqual(oneLines);
    const latest = (await hearth('talker', '--qualifier', '$LATEST')).stdout.replace(ISO, '').trimEnd().split('\n');
    expect(latest).toEqual(expect.arrayContaining(['first words', 'from latest']));
    for (const l of latest) expect(l).not.toMatch(/^\[1\] /);
    // Every version's lines without a qualifier, as the file keeps them.
    expect((await hearth('talker', '-n', '0')).stdout.replace(ISO, '').split('\n')).toEqual(expect.arrayContaining(['[1] from version one', 'from latest']));
    const missing = await hearth('talker:7');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ResourceNotFoundException (404): version 7 of talker does not exist');
  });

  it('an unknown function is ResourceNotFoundException', { timeout: 60_000 }, async () => {
    const r = await hearth('nobody');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ResourceNotFoundException \(404\): Function not found: arn:aws:lambda:[^:]+:\d+:function:nobody/);
  });

  it('--follow prints a new invocation\'s lines within a second of it returning', { timeout: 120_000 }, async () => {
    await invoke('talker', 'before following');
    const f = follower({ HEARTH_URL: platform.url }, 'talker', '--follow', '-n', '1');
    // Connected once the kept line is printed.
    await waitFor('the follower to print the kept line', () => f.out().includes('before following'), 60_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; it printed: ${f.out()}; hearth logs then: ${JSON.stringify(f.child.exitCode)}`);
    });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const marker = `followed line ${i} ${Date.now()}`;
      await invoke('talker', marker);
      const returned = performance.now();
      // Bounded: the line must arrive within the second after the invocation returned.
      await waitFor(`"${marker}" within a second`, () => f.out().includes(marker), 1_000, 5);
      waits.push(performance.now() - returned);
    }
    console.log(`hearth logs --follow (embedded): a new invocation's line printed ${waits.map((w) => `${w.toFixed(0)} ms`).join(', ')} after the invocation returned`);
    const printed = f.out().trimEnd().split('\n');
    expect(printed.map((l) => l.replace(ISO, '')).slice(-5)).toEqual(Array.from({ length: 5 }, (_, i) => expect.stringMatching(new RegExp(`^followed line ${i} \\d+$`)) as unknown as string));
    // The gateway shutting down ends the follower's answer, so it does not hold the drain; the command exits 0.
    await platform.close();
    expect(await Promise.race([f.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))])).toBe(0);
  });
});

describe('hearth logs --dir: the same files without a gateway', () => {
  async function write(logs: FunctionLogFiles, name: string, lines: string[]): Promise<void> {
    const sink = logs.sink(name);
    for (const line of lines) if (!sink.write({ functionName: name, line, stream: 'stdout', cutBytes: 0 })) await sink.drained();
    await sink.drained();
  }
  const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${String(from + i).padStart(5, '0')} ${'z'.repeat(50)}`);
  const texts = (out: string) => out.trimEnd().split('\n').map((l) => l.replace(ISO, ''));

  it('prints the last lines across rotated files', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-logs-dir-'));
    const logs = new FunctionLogFiles(dir, { maxFileBytes: 64 * 1024, files: 3 });
    await write(logs, 'fn', numbered(0, 1600)); // about 130 KB: NAME.log.2, .1 and NAME.log
    await logs.close();
    const r = await runHearth({}, 'logs', 'fn', '--dir', dir, '--lines', '1200');
    expect(r.code, r.stderr).toBe(0);
    expect(texts(r.stdout)).toEqual(numbered(400, 1600));
    const missing = await runHearth({}, 'logs', 'other', '--dir', dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no log for other');
  });

  it('--follow prints what comes next, across rotations, in order', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-logs-follow-'));
    const logs = new FunctionLogFiles(dir, { maxFileBytes: 16 * 1024, files: 4 });
    await write(logs, 'fn', numbered(0, 10));
    const f = follower({}, 'fn', '--follow', '--dir', dir, '-n', '0');
    await waitFor('the first lines', () => f.out().includes(numbered(9, 10)[0] ?? '?'), 30_000);
    // Slowly enough that the follower sees each file before it rotates away (a file holds about 200 lines, four are kept).
    for (let i = 10; i < 1010; i += 50) {
      await write(logs, 'fn', numbered(i, i + 50));
      await new Promise((r) => setTimeout(r, 250));
    }
    await waitFor('every line', () => f.out().includes(numbered(1009, 1010)[0] ?? '?'), 30_000);
    expect(texts(f.out())).toEqual(numbered(0, 1010));
    await logs.close();
  });
});
