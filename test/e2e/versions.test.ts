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
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../cluster/node/images.js';
import { failureReason, formatReport, SteadyLoad, type LoadReport } from '../helpers/steady-load.js';
import { GATEWAY, NS, api, apiKey, gatewayFetch, invoke, kubectl, tool, until } from './cluster.js';
import { applyPython } from './functions.js';

const FN = 'canary';
/** The code marker each version answers with; $LATEST ends on C, changed once more after v2, so all differ. */
const CODE_OF_VERSION: Record<string, string> = { '1': 'A', '2': 'B', $LATEST: 'C' };
const SHARE = 0.1;
const SHARE_TOLERANCE = 0.02;
const MIN_WEIGHTED_CALLS = 5_000;
/** A change must reach the callers this soon after the CLI returned. */
const SWITCH_WITHIN_MS = 1_000;
const CLIENTS = 8;

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

interface Answer {
  code: string;
  /** X-Amz-Executed-Version. */
  executed: string;
  /** What the runtime says it runs (AWS_LAMBDA_FUNCTION_VERSION, context.function_version). */
  runtimeVersion: string;
  /** When the caller sent it (epoch ms, from the payload the handler echoes). */
  sentAt: number;
}

/** An answer whose header and code marker agree (a published version's code never changes; $LATEST's does), or why not. */
function answerOf(status: number, body: string, executed: string | undefined): Answer | { error: string } {
  if (status !== 200) return { error: failureReason(status, body) };
  let a: { code?: unknown; t?: unknown; runtimeVersion?: unknown; errorType?: unknown };
  try {
    a = JSON.parse(body) as typeof a;
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof a.errorType === 'string') return { error: `function error ${a.errorType}` };
  if (typeof a.code !== 'string') return { error: 'no code marker' };
  if (executed === undefined) return { error: 'no X-Amz-Executed-Version' };
  if (executed !== '$LATEST' && CODE_OF_VERSION[executed] !== a.code) return { error: `X-Amz-Executed-Version ${executed} but code ${a.code}` };
  return { code: a.code, executed, runtimeVersion: String(a.runtimeVersion), sentAt: typeof a.t === 'number' ? a.t : Number.NaN };
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

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
async function call(target: string): Promise<Answer> {
  const r = await invoke(target, { t: Date.now() }, { timeoutMs: 60_000 });
  const a = answerOf(r.status, r.body, r.headers.get('x-amz-executed-version') ?? undefined);
  if ('error' in a) throw new Error(`${target}: ${a.error}: ${r.status} ${r.body.slice(0, 300)}`);
  return a;
}

interface Switch {
  what: string;
  /** Epoch ms the CLI returned. */
  at: number;
  /** A separate caller polling live back to back: ms from `at` to its first answer from the new version. */
  pollMs: number;
}

/**
 * Polls live on one kept-alive connection until an answer comes from
 * `version`, bounded: the ms from `from` to that answer.
 */
async function pollLive(version: string, from: number, timeoutMs = 10_000): Promise<number> {
  const client = new Client(GATEWAY, { pipelining: 1 });
  const headers = { authorization: `Bearer ${await apiKey()}`, 'content-type': 'application/json' };
  try {
    const deadline = from + timeoutMs;
    while (Date.now() < deadline) {
      const res = await client.request({ method: 'POST', path: `/2015-03-31/functions/${FN}:live/invocations`, headers, body: JSON.stringify({ t: Date.now() }), headersTimeout: 30_000, bodyTimeout: 30_000 });
      const a = answerOf(res.statusCode, await res.body.text(), header(res.headers, 'x-amz-executed-version'));
      if ('error' in a) throw new Error(`polling ${FN}:live: ${a.error}`);
      if (a.executed === version) return Date.now() - from;
    }
    throw new Error(`${FN}:live did not answer from version ${version} within ${timeoutMs} ms of the change`);
  } finally {
    await client.close();
  }
}

interface Sample {
  sentAt: number;
  version: string;
}

/**
 * What the load's callers saw of a change to `want` made at `at`: the
 * calls sent in [at, end), and how late after `at` the last call that ran
 * another version was sent (0 when none did: the change was in before the
 * CLI returned).
 */
function seenAfter(samples: readonly Sample[], at: number, end: number, want: string): { calls: number; lastOtherMs: number; firstWantMs: number } {
  let calls = 0;
  let lastOther = at;
  let firstWant = Number.POSITIVE_INFINITY;
  for (const s of samples) {
    if (s.sentAt < at || s.sentAt >= end) continue;
    calls++;
    if (s.version === want) firstWant = Math.min(firstWant, s.sentAt);
    else lastOther = Math.max(lastOther, s.sentAt);
  }
  return { calls, lastOtherMs: lastOther - at, firstWantMs: firstWant - at };
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

/** The chart's release, installed as hearth.test.ts does when this file runs alone. */
async function ensureRelease(): Promise<void> {
  const installed = await tool('helm', ['status', 'hearth', '--namespace', NS]).then(() => true, () => false);
  if (installed) return;
  await tool('helm', [
    'install', 'hearth', 'charts/hearth', '--namespace', NS, '--create-namespace',
    '--set', 'redis.bundled.persistence.enabled=false',
    '--wait', '--timeout', '4m',
  ]);
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
    const samples: Sample[] = [];
    const check = (status: number, body: string, headers: Record<string, string | string[] | undefined>): string | undefined => {
      const a = answerOf(status, body, header(headers, 'x-amz-executed-version'));
      if ('error' in a) return a.error;
      if (a.executed !== '1' && a.executed !== '2') return `live ran version ${a.executed}`;
      samples.push({ sentAt: a.sentAt, version: a.executed });
      return undefined;
    };
    const load = new SteadyLoad({
      origin: GATEWAY,
      path: `/2015-03-31/functions/${FN}:live/invocations`,
      clients: CLIENTS,
      headers: { authorization: `Bearer ${await apiKey()}` },
      body: () => JSON.stringify({ t: Date.now() }),
      check,
      callTimeoutMs: 30_000,
    });
    const switches: Switch[] = [];
    let weighted = { calls: 0, v2: 0, share: Number.NaN, firstV2Ms: Number.NaN };
    let report: LoadReport | undefined;
    load.start('live → 1');
    try {
      await sleep(3_000);

      load.phase('live → 1, 10 % → 2');
      const shift = await hearth('alias', FN, 'live', '1', '--weight', '2=10');
      switches.push({ what: '10 % to v2', at: shift.returnedAt, pollMs: await pollLive('2', shift.returnedAt) });
      await until(`${MIN_WEIGHTED_CALLS} calls through live after the shift`, async () => (samples.filter((s) => s.sentAt >= shift.returnedAt).length >= MIN_WEIGHTED_CALLS ? true : undefined), 300_000, 500);
      load.phase('live → 2');
      const promote = await hearth('alias', FN, 'live', '2');
      switches.push({ what: 'promote v2', at: promote.returnedAt, pollMs: await pollLive('2', promote.returnedAt) });
      await sleep(4_000);

      load.phase('live → 1 (roll back)');
      const rollback = await hearth('alias', FN, 'live', '1');
      switches.push({ what: 'roll back to v1', at: rollback.returnedAt, pollMs: await pollLive('1', rollback.returnedAt) });
      await sleep(4_000);
      const end = Date.now();

      // Each window ends when the next command started: its change may reach the callers before the CLI returns.
      const w = seenAfter(samples, shift.returnedAt, promote.startedAt, '2');
      const v2 = samples.filter((s) => s.sentAt >= shift.returnedAt && s.sentAt < promote.startedAt && s.version === '2').length;
      weighted = { calls: w.calls, v2, share: v2 / w.calls, firstV2Ms: w.firstWantMs };
      const promoted = seenAfter(samples, promote.returnedAt, rollback.startedAt, '2');
      const rolledBack = seenAfter(samples, rollback.returnedAt, end, '1');
      report = await load.stop();
      const lateness = { promote: promoted.lastOtherMs, rollback: rolledBack.lastOtherMs };
      console.log(`[versions] per phase:\n${formatReport(report)}`);
      console.log(
        `[versions] summary: live 10 % → v2: ${(weighted.share * 100).toFixed(2)} % of ${weighted.calls} calls (${weighted.v2} by v2, first ${weighted.firstV2Ms} ms after the CLI); ` +
          `${report.total.calls} calls under load, ${report.total.failed} failed, ${report.total.callsPerSecond}/s; ` +
          `switch seen by a poller ${switches.map((s) => `${s.what} ${s.pollMs} ms`).join(', ')}; ` +
          `last call on the old version sent ${lateness.promote} ms (promote) and ${lateness.rollback} ms (roll back) after the CLI returned`,
      );

      expect(report.phases.map((p) => [p.phase, p.failed]).filter(([, f]) => f !== 0), report.examples.join('\n')).toEqual([]);
      expect(weighted.calls).toBeGreaterThanOrEqual(MIN_WEIGHTED_CALLS);
      expect(Math.abs(weighted.share - SHARE), `share of v2 ${weighted.share}`).toBeLessThanOrEqual(SHARE_TOLERANCE);
      // Seen within a second: by the poller, by the load's first v2 call, and no caller got the old version once a second had passed.
      for (const s of switches) expect(s.pollMs, s.what).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
      expect(weighted.firstV2Ms).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
      expect(promoted.calls).toBeGreaterThan(0);
      expect(rolledBack.calls).toBeGreaterThan(0);
      expect(lateness.promote).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
      expect(lateness.rollback).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
    } finally {
      report ??= await load.stop();
    }
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
