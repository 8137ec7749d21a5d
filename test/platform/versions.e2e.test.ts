// Must show, embedded default: versions, aliases and weighted traffic with
// `hearth up` as a user runs it (the real CLI process over a functions
// directory). Publish v1 (code A) and v2 (code B) with `hearth publish`,
// editing the Function's YAML between; $LATEST moves on to code C; alias
// `live` → v1 with `hearth alias`. Then, under steady load through
// NAME:live: 10 % to v2 (its share within ±2 percentage points over at
// least 5,000 calls), promote v2 to 100 %, roll back to v1, with 0 failed
// calls and every call sent more than a second after the CLI returned
// seeing the new routing. :1, :2, :live and $LATEST each answer with their
// own code. Then hearth up is stopped and started again over the same
// directory, and the versions and the alias are there and answer the same.
// Every answer is checked twice: X-Amz-Executed-Version and the code the
// body names must agree.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { canaryAnswer, expectCanaryHeld, runCanary, type CanaryAnswer } from '../helpers/canary-load.js';
import { functionYaml } from '../helpers/platform.js';

const FN = 'canary';
/** The code marker each version answers with; $LATEST's follows the file (A, B, then C: after v2 all three differ). */
const CODE_OF_VERSION: Record<string, string> = { '1': 'A', '2': 'B', $LATEST: 'A' };
/** The code a version runs, for checking each answer against its X-Amz-Executed-Version. */
const codeOf = (version: string): string | undefined => CODE_OF_VERSION[version];
/**
 * Node.js runs an instance's concurrent calls in one process, so the 8
 * clients need one instance per version. Versions no alias points to scale
 * to zero only after 10 idle minutes, so the roll back finds v1 warm.
 */
const spec = (code: string) => ({
  runtime: 'nodejs22' as const,
  handler: 'index.handler',
  code: { inline: { 'index.mjs': `const CODE = '${code}';\nexport const handler = async (event, context) => ({ code: CODE, t: event.t, runtimeVersion: context.functionVersion });\n` } },
  timeoutSeconds: 30,
  concurrency: 8,
  scaling: { minInstances: 0, maxInstances: 2, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 600 },
});

let dir: string;
let up: ChildPlatform | undefined;

/** `hearth ARGS` as a child process against the running hearth up; resolves when it exited 0, with when it started and returned. */
function hearth(...args: string[]): Promise<{ stdout: string; stderr: string; startedAt: number; returnedAt: number }> {
  const url = up?.url ?? '';
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, HEARTH_URL: url }, timeout: 60_000 }, (err, stdout, stderr) => {
      const returnedAt = Date.now();
      if (err) reject(new Error(`hearth ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr, startedAt, returnedAt });
    });
  });
}

async function call(target: string): Promise<CanaryAnswer> {
  const res = await fetch(`${up?.url ?? ''}/2015-03-31/functions/${encodeURIComponent(target)}/invocations`, { method: 'POST', body: JSON.stringify({ t: Date.now() }) });
  const body = await res.text();
  const a = canaryAnswer(codeOf, res.status, body, res.headers.get('x-amz-executed-version') ?? undefined);
  if ('error' in a) throw new Error(`${target}: ${a.error}: ${res.status} ${body.slice(0, 300)}`);
  return a;
}

/** Bounded polling for a value. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function startUp(): Promise<ChildPlatform> {
  up = await startChildPlatform(['--dir', dir, '--port', '0'], 90_000);
  return up;
}

/** SIGTERM, as Ctrl-C would: hearth up drains and exits. */
async function stopUp(): Promise<void> {
  const p = up;
  if (p === undefined) return;
  up = undefined;
  if (p.child.exitCode === null && p.child.signalCode === null) {
    const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
    p.child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
  }
  // Whatever it started that outlived it.
  p.killAll();
}

/** Writes the Function file (no aliases in it yet) and waits until $LATEST answers with `code`. */
async function deploy(code: string): Promise<void> {
  CODE_OF_VERSION.$LATEST = code;
  writeFileSync(join(dir, `${FN}.yaml`), functionYaml(FN, spec(code)));
  await until(`$LATEST answering with code ${code}`, async () => ((await call(FN)).code === code ? true : undefined));
}

async function eachQualifierAnswersItsOwnCode(): Promise<void> {
  const cases: Array<[string, string]> = [[`${FN}:1`, '1'], [`${FN}:2`, '2'], [`${FN}:live`, '1'], [`${FN}:$LATEST`, '$LATEST'], [FN, '$LATEST']];
  for (const [target, version] of cases) {
    const a = await call(target);
    expect([target, a.executed, a.code, a.runtimeVersion]).toEqual([target, version, CODE_OF_VERSION[version], version]);
  }
  const r = await fetch(`${up?.url ?? ''}/2015-03-31/functions/${FN}/invocations?Qualifier=2`, { method: 'POST', body: '{}' });
  expect([r.status, r.headers.get('x-amz-executed-version'), ((await r.json()) as { code?: string }).code]).toEqual([200, '2', 'B']);
  const missing = await fetch(`${up?.url ?? ''}/2015-03-31/functions/${FN}:7/invocations`, { method: 'POST', body: '{}' });
  expect([missing.status, missing.headers.get('x-amzn-errortype')]).toEqual([404, 'ResourceNotFoundException']);
}

describe.sequential('versions, aliases and weighted traffic (embedded: hearth up)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-versions-e2e-'));
    writeFileSync(join(dir, `${FN}.yaml`), functionYaml(FN, spec('A')));
    await startUp();
  }, 120_000);
  afterAll(async () => {
    await stopUp();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('publish v1 and v2 with different code (the YAML edited between), $LATEST moves on, alias live → 1; each qualifier answers with its own code', async () => {
    await until('code A', async () => ((await call(FN)).code === 'A' ? true : undefined));
    const v1 = await hearth('publish', FN, '--description', 'code A');
    expect(v1.stdout.trim()).toBe('1');

    await deploy('B');
    expect((await hearth('publish', FN, '--description', 'code B')).stdout.trim()).toBe('2');
    const again = await hearth('publish', FN);
    expect(again.stdout.trim()).toBe('2');
    expect(again.stderr).toContain('has not changed since version 2');

    await deploy('C');
    const live = await hearth('alias', FN, 'live', '1');
    expect(live.stdout.trim()).toBe('live → 1');
    expect(readFileSync(join(dir, `${FN}.yaml`), 'utf8')).toMatch(/aliases:\n\s+- name: live\n\s+version: "1"/);
    await eachQualifierAnswersItsOwnCode();
  }, 300_000);

  it(`under load through ${FN}:live: 10 % to v2 (±2 points over ≥ 5,000 calls), promote v2, roll back to v1; 0 failed, each change seen within 1 s of the CLI`, async () => {
    const r = await runCanary({ label: '[versions embedded]', origin: up?.url ?? '', fn: FN, codeOf, alias: (...args) => hearth('alias', FN, 'live', ...args) });
    expect(r.shift.stdout.trim()).toBe('live → 1 (90 %), 2 (10 %)');
    expectCanaryHeld(r);
  }, 900_000);

  it('after the roll back each qualifier answers with its own code; hearth versions lists both versions and live', async () => {
    await eachQualifierAnswersItsOwnCode();
    const listed = (await hearth('versions', FN)).stdout;
    expect(listed).toMatch(/^\$LATEST/m);
    expect(listed).toMatch(/^1\s.*live.*code A/m);
    expect(listed).toMatch(/^2\s.*code B/m);
    expect(listed).toMatch(/^live\s+1\s/m);
  }, 120_000);

  it('stop and start hearth up over the same directory: the versions and the alias are still there and answer the same', async () => {
    const before = (await hearth('versions', FN)).stdout.split('\n').map((l) => l.trimEnd());
    await stopUp();
    await startUp();
    await eachQualifierAnswersItsOwnCode();
    const after = (await hearth('versions', FN)).stdout.split('\n').map((l) => l.trimEnd());
    expect(after).toEqual(before);
    // An edit of the code beside the alias keeps the alias; the next number is 3.
    const file = join(dir, `${FN}.yaml`);
    CODE_OF_VERSION.$LATEST = 'D';
    writeFileSync(file, readFileSync(file, 'utf8').replace("const CODE = 'C';", "const CODE = 'D';"));
    await until('$LATEST answering with code D', async () => ((await call(FN)).code === 'D' ? true : undefined));
    expect((await hearth('publish', FN)).stdout.trim()).toBe('3');
    expect((await call(`${FN}:live`)).code).toBe('A');
  }, 300_000);
});
