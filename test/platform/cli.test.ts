// The CLI as a user runs it against a running platform: hearth invoke (sync,
// async, log tail, function error) and hearth cost.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { py, startPlatform } from '../helpers/platform.js';

const run = promisify(execFile);
type Platform = Awaited<ReturnType<typeof startPlatform>>;
const helloPython = (parse(readFileSync('examples/hello-python.yaml', 'utf8')) as { spec: FunctionSpecInput }).spec;

async function hearth(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node_modules/.bin/tsx', ['src/cli/main.ts', ...args], { env: { ...process.env, HEARTH_URL: url } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('hearth invoke and hearth cost', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({ 'hello-python': helloPython, shout: py('def handler(e, c):\n    print("SHOUTING")\n    raise RuntimeError("nope")\n') });
  }, 60_000);
  afterAll(async () => platform?.close());

  it('prints the payload of a sync invocation', async () => {
    const r = await hearth(platform.url, 'invoke', 'hello-python', '--payload', '{"key":"value"}');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('{"statusCode": 200, "body": "\\"Hello, world!\\""}');
  });

  it('prints the request id of an async invocation', async () => {
    const r = await hearth(platform.url, 'invoke', 'hello-python', '--async');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('exits non-zero on a function error and shows the log tail', async () => {
    const r = await hearth(platform.url, 'invoke', 'shout', '--log');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SHOUTING');
    expect(JSON.parse(r.stdout)).toMatchObject({ errorType: 'RuntimeError' });
  });

  it('names the error of an unknown function', async () => {
    const r = await hearth(platform.url, 'invoke', 'missing');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ResourceNotFoundException (404)');
  });

  it('prints the cost model per function', async () => {
    const r = await hearth(platform.url, 'cost', '--k', '0.0000166667', '--p', '0.0000002');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('C = k·t + p·n');
    const row = r.stdout.split('\n').find((l) => l.startsWith('hello-python'));
    expect(row).toBeDefined();
    // Sync and async calls above ran hello-python twice; each billed at least 1 ms of 128 MB.
    const [, requests, billedMs] = (row as string).trim().split(/\s+/);
    expect(Number(requests)).toBeGreaterThanOrEqual(1);
    expect(Number(billedMs)).toBeGreaterThanOrEqual(1);
  });
});
