// Versions, aliases and weighted traffic on the process-node cluster, as a
// team canaries a change: publish v1 (code A) with `hearth publish`, change
// the code with kubectl and publish v2 (code B) through the Lambda API,
// point the alias `live` at v1, then under steady load through the
// gateway's Service send 10 % of live's calls to v2, promote v2 to 100 %
// and roll back to v1. Every answer must be a 200 whose
// X-Amz-Executed-Version and code marker agree; the share of v2 must be
// within ±2 percentage points of 10 % over at least 5,000 calls; each
// change must reach the callers within a second of the CLI returning.
// Runs after churn.test.ts on the release hearth.test.ts installed, or
// installs it when run alone.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../cluster/node/images.js';
import { canaryAnswer, expectCanaryHeld, runCanary, type CanaryAnswer } from '../helpers/canary-load.js';
import { GATEWAY, NS, api, apiKey, ensureRelease, gatewayFetch, invoke, kubectl, until } from './cluster.js';
import { applyPython } from './functions.js';

const FN = 'canary';
/** The code marker each version answers with; $LATEST ends on C, changed once more after v2, so all differ. */
const CODE_OF_VERSION: Record<string, string> = { '1': 'A', '2': 'B', $LATEST: 'C' };
/** The code a version runs (a published version's never changes; $LATEST's does, so it is not checked under load). */
const codeOf = (version: string): string | undefined => (version === '$LATEST' ? undefined : CODE_OF_VERSION[version]);

const handler = (code: string): string => `import time

def lambda_handler(event, context):
    time.sleep(float(event.get('sleep', 0)))
    return {'code': '${code}', 't': event.get('t'), 'runtimeVersion': context.function_version}
`;

/**
 * Concurrency 8 takes the 8 clients on one instance. Versions no alias
 * points to scale to zero only after 10 idle minutes, so the roll back finds
 * v1 warm, as a team that keeps the previous version warm would.
 */
function applyCanary(code: string): Promise<void> {
  return applyPython(FN, handler(code), {
    timeoutSeconds: 30,
    concurrency: 8,
    scaling: { minInstances: 0, maxInstances: 2, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 600 },
  });
}

/** `hearth ARGS --url GATEWAY --api-key KEY` from dist/, as a user runs it; resolves when it exited 0, with when it started and returned. */
async function hearth(...args: string[]): Promise<{ stdout: string; startedAt: number; returnedAt: number }> {
  const key = await apiKey();
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(repoRoot, 'dist/cli/main.js'), ...args, '--url', GATEWAY, '--api-key', key], { timeout: 60_000 }, (err, stdout, stderr) => {
      const returnedAt = Date.now();
      if (err) reject(new Error(`hearth ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ stdout, startedAt, returnedAt });
    });
  });
}

/** One call to NAME:QUALIFIER (or the unqualified name) through the gateway's Service. */
async function call(target: string): Promise<CanaryAnswer> {
  const r = await invoke(target, { t: Date.now() }, { timeoutMs: 60_000 });
  const a = canaryAnswer(codeOf, r.status, r.body, r.headers.get('x-amz-executed-version') ?? undefined);
  if ('error' in a) throw new Error(`${target}: ${a.error}: ${r.status} ${r.body.slice(0, 300)}`);
  return a;
}

/** The cell under a column of kubectl's table output, by the header's offsets. */
function column(table: string, row: string, name: string): string {
  const [head = '', ...rows] = table.trimEnd().split('\n');
  const line = rows.find((l) => l.startsWith(`${row} `)) ?? '';
  const start = head.indexOf(name);
  if (start < 0) throw new Error(`no column ${name} in: ${head}`);
  const rest = head.slice(start + name.length);
  const next = rest.search(/\S/);
  return (next < 0 ? line.slice(start) : line.slice(start, start + name.length + next)).trim();
}

describe.runIf(inject('e2e') !== undefined).sequential('versions, aliases and weighted traffic (process-node cluster)', () => {
  beforeAll(ensureRelease, 300_000);
  afterAll(async () => {
    // Its pods would only take the machine from the files after this one.
    await kubectl('delete', 'function', '--namespace', NS, FN, '--wait=false', '--ignore-not-found');
  }, 60_000);

  it('publish v1 (hearth publish) and v2 (PublishVersion) with different code; $LATEST changes again; each qualifier answers with its own code', async () => {
    await applyCanary('A');
    await until(`${FN} answering with code A`, async () => ((await call(FN)).code === 'A' ? true : undefined), 180_000, 1_000);

    const v1 = await hearth('publish', FN, '--description', 'code A');
    expect(v1.stdout.trim()).toBe('1');

    await applyCanary('B');
    await until(`$LATEST answering with code B`, async () => ((await call(FN)).code === 'B' ? true : undefined), 180_000, 1_000);
    const res = await gatewayFetch(`/2015-03-31/functions/${FN}/versions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Description: 'code B' }) });
    const published = (await res.json()) as { Version?: string; FunctionArn?: string; Description?: string };
    expect(res.status, JSON.stringify(published)).toBe(201);
    expect(published.Version).toBe('2');
    expect(published.FunctionArn).toMatch(new RegExp(`:function:${FN}:2$`));
    // Lambda returns the latest version when nothing changed since.
    const again = await hearth('publish', FN);
    expect(again.stdout.trim()).toBe('2');

    await applyCanary('C');
    await until(`$LATEST answering with code C`, async () => ((await call(FN)).code === 'C' ? true : undefined), 180_000, 1_000);

    await hearth('alias', FN, 'live', '1', '--min-instances', '1');
    // The versions start from zero on their first call; these wait for it.
    for (const [q, version] of [['1', '1'], ['2', '2'], ['live', '1'], ['$LATEST', '$LATEST']] as const) {
      const a = await until(`${FN}:${q} answering`, async () => call(`${FN}:${q}`), 180_000, 1_000);
      expect(a.executed, `${FN}:${q}`).toBe(version);
      expect(a.code, `${FN}:${q}`).toBe(CODE_OF_VERSION[version]);
      expect(a.runtimeVersion, `${FN}:${q}: the runtime's AWS_LAMBDA_FUNCTION_VERSION`).toBe(version);
    }
  }, 900_000);

  it('under load through the Service: 10 % of live to v2 (±2 points over ≥ 5,000 calls), promote v2, roll back to v1; 0 failed, each change seen within 1 s of the CLI', async () => {
    const r = await runCanary({
      label: '[versions]',
      origin: GATEWAY,
      fn: FN,
      headers: { authorization: `Bearer ${await apiKey()}` },
      codeOf,
      alias: (...args) => hearth('alias', FN, 'live', ...args),
    });
    expectCanaryHeld(r);
  }, 900_000);

  it('after the roll back: :1, :2, :live, $LATEST and an unqualified call each answer with their own code', async () => {
    const cases: [string, string][] = [[`${FN}:1`, '1'], [`${FN}:2`, '2'], [`${FN}:live`, '1'], [`${FN}:$LATEST`, '$LATEST'], [FN, '$LATEST']];
    for (const [target, version] of cases) {
      const a = await call(target);
      expect([target, a.executed, a.code]).toEqual([target, version, CODE_OF_VERSION[version]]);
    }
    // ?Qualifier= as the SDKs send it.
    const r = await gatewayFetch(`/2015-03-31/functions/${FN}/invocations?Qualifier=2`, { method: 'POST', body: JSON.stringify({}) });
    expect([r.status, r.headers.get('x-amz-executed-version'), ((await r.json()) as { code?: string }).code]).toEqual([200, '2', 'B']);
    // An unknown qualifier gets Lambda's 404.
    const missing = await invoke(`${FN}:7`, {});
    expect([missing.status, missing.headers.get('x-amzn-errortype')]).toEqual([404, 'ResourceNotFoundException']);
    expect(missing.body).toContain(`function:${FN}:7`);
  }, 120_000);

  it('kubectl get functionversions lists both; kubectl get function shows Latest and Aliases; its status lists the versions; hearth versions prints them', async () => {
    const versions = await kubectl('get', 'functionversions', '--namespace', NS);
    expect(versions).toMatch(new RegExp(`^${FN}-v1\\s`, 'm'));
    expect(versions).toMatch(new RegExp(`^${FN}-v2\\s`, 'm'));

    const status = await until(`${FN}'s status listing versions 1 and 2`, async () => {
      const fn = await api().get<{ status?: { latestVersion?: string; versions?: { version: string; readyInstances?: number }[]; aliases?: string } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`);
      const listed = (fn.status?.versions ?? []).map((v) => v.version).sort();
      return listed.join() === '1,2' && fn.status?.aliases === 'live=1' ? fn.status : undefined;
    }, 60_000, 1_000);
    expect(status.latestVersion).toBe('2');

    const table = await kubectl('get', 'function', '--namespace', NS, FN);
    expect(column(table, FN, 'LATEST')).toBe('2');
    expect(column(table, FN, 'ALIASES')).toBe('live=1');

    const listed = (await hearth('versions', FN)).stdout;
    expect(listed).toMatch(/\$LATEST/);
    expect(listed).toMatch(/^\s*1\b/m);
    expect(listed).toMatch(/^\s*2\b/m);
    expect(listed).toMatch(/live/);
  }, 120_000);
});
