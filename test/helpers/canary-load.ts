// The canary of issue 17's Must show, run the same way against `hearth up`
// (test/platform/versions.e2e.test.ts) and the process-node cluster
// (test/e2e/versions.test.ts): under steady load through NAME:live, send
// 10 % of live's calls to version 2, promote version 2, roll back to
// version 1, with `hearth alias` as a user runs it. Every answer must be a
// 200 whose X-Amz-Executed-Version and code marker agree; the handler echoes
// the time the caller sent it (`t`), so each answer is placed against the
// moment a change was made.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { expect } from 'vitest';
import { failureReason, formatReport, SteadyLoad, type LoadReport } from './steady-load.js';

export const SHARE = 0.1;
export const SHARE_TOLERANCE = 0.02;
export const MIN_WEIGHTED_CALLS = 5_000;
/** A change must reach the callers this soon after the CLI returned. */
export const SWITCH_WITHIN_MS = 1_000;
const CLIENTS = 8;

export interface CanaryAnswer {
  code: string;
  /** X-Amz-Executed-Version. */
  executed: string;
  /** What the runtime says it runs (AWS_LAMBDA_FUNCTION_VERSION). */
  runtimeVersion: string;
  /** When the caller sent it (epoch ms, from the payload the handler echoes). */
  sentAt: number;
}

/**
 * An answer whose header and code marker agree, or why not. `codeOf` gives
 * the code a version runs (undefined: not checked, e.g. $LATEST while it is
 * being changed).
 */
export function canaryAnswer(codeOf: (version: string) => string | undefined, status: number, body: string, executed: string | undefined): CanaryAnswer | { error: string } {
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
  const want = codeOf(executed);
  if (want !== undefined && want !== a.code) return { error: `X-Amz-Executed-Version ${executed} but code ${a.code}` };
  return { code: a.code, executed, runtimeVersion: String(a.runtimeVersion), sentAt: typeof a.t === 'number' ? a.t : Number.NaN };
}

export function firstHeader(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A `hearth` command that exited 0: what it printed, when it started and when it returned (epoch ms). */
export interface CliRun {
  stdout: string;
  startedAt: number;
  returnedAt: number;
}

export interface CanaryOptions {
  /** Prefix of the lines logged. */
  label: string;
  /** The gateway. */
  origin: string;
  fn: string;
  /** Sent with every call (credentials). */
  headers?: Record<string, string>;
  codeOf: (version: string) => string | undefined;
  /** `hearth alias FN live ARGS…`. */
  alias: (...args: string[]) => Promise<CliRun>;
}

interface Sample {
  sentAt: number;
  version: string;
}

/** What the callers saw of a change to `want` made at `at`: calls sent in [at, end), and how late after `at` the last call that ran another version was sent (0: none did). */
interface Seen {
  calls: number;
  lastOtherMs: number;
  firstWantMs: number;
}

export interface CanaryResult {
  report: LoadReport;
  shift: CliRun;
  /** The weighted phase, from the shift's return to the promotion's start. */
  weighted: { calls: number; v2: number; share: number; firstV2Ms: number };
  /** A separate caller polling live back to back: ms from each CLI's return to its first answer from the new version. */
  polls: { shift: number; promote: number; rollback: number };
  promoted: Seen;
  rolledBack: Seen;
}

function seenAfter(samples: readonly Sample[], at: number, end: number, want: string): Seen {
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

/** Polls live on one kept-alive connection until an answer comes from `version`, bounded: the ms from `from` to that answer. */
async function pollLive(o: CanaryOptions, version: string, from: number, timeoutMs = 10_000): Promise<number> {
  const client = new Client(o.origin, { pipelining: 1 });
  try {
    const deadline = from + timeoutMs;
    while (Date.now() < deadline) {
      const res = await client.request({
        method: 'POST',
        path: `/2015-03-31/functions/${o.fn}:live/invocations`,
        headers: { ...o.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ t: Date.now() }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const a = canaryAnswer(o.codeOf, res.statusCode, await res.body.text(), firstHeader(res.headers, 'x-amz-executed-version'));
      if ('error' in a) throw new Error(`polling ${o.fn}:live: ${a.error}`);
      if (a.executed === version) return Date.now() - from;
    }
    throw new Error(`${o.fn}:live did not answer from version ${version} within ${timeoutMs} ms of the change`);
  } finally {
    await client.close();
  }
}

async function enoughCalls(samples: readonly Sample[], since: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (samples.filter((s) => s.sentAt >= since).length < MIN_WEIGHTED_CALLS) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${MIN_WEIGHTED_CALLS} calls through live after the shift`);
    await sleep(250);
  }
}

/** Runs the canary with `live` → 1 at the start; logs each phase and a summary line. */
export async function runCanary(o: CanaryOptions): Promise<CanaryResult> {
  const samples: Sample[] = [];
  const check = (status: number, body: string, headers: Record<string, string | string[] | undefined>): string | undefined => {
    const a = canaryAnswer(o.codeOf, status, body, firstHeader(headers, 'x-amz-executed-version'));
    if ('error' in a) return a.error;
    if (a.executed !== '1' && a.executed !== '2') return `live ran version ${a.executed}`;
    samples.push({ sentAt: a.sentAt, version: a.executed });
    return undefined;
  };
  const load = new SteadyLoad({
    origin: o.origin,
    path: `/2015-03-31/functions/${o.fn}:live/invocations`,
    clients: CLIENTS,
    ...(o.headers ? { headers: o.headers } : {}),
    body: () => JSON.stringify({ t: Date.now() }),
    check,
    callTimeoutMs: 30_000,
  });
  let report: LoadReport | undefined;
  load.start('live → 1');
  try {
    await sleep(3_000);

    load.phase('live → 1, 10 % → 2');
    const shift = await o.alias('1', '--weight', '2=10');
    const shiftPoll = await pollLive(o, '2', shift.returnedAt);
    await enoughCalls(samples, shift.returnedAt);

    load.phase('live → 2 (promote)');
    const promote = await o.alias('2');
    const promotePoll = await pollLive(o, '2', promote.returnedAt);
    await sleep(4_000);

    load.phase('live → 1 (roll back)');
    const rollback = await o.alias('1');
    const rollbackPoll = await pollLive(o, '1', rollback.returnedAt);
    await sleep(4_000);
    const end = Date.now();
    report = await load.stop();

    // Each window ends when the next command started: its change may reach the callers before the CLI returns.
    const w = seenAfter(samples, shift.returnedAt, promote.startedAt, '2');
    const v2 = samples.filter((s) => s.sentAt >= shift.returnedAt && s.sentAt < promote.startedAt && s.version === '2').length;
    const result: CanaryResult = {
      report,
      shift,
      weighted: { calls: w.calls, v2, share: v2 / w.calls, firstV2Ms: w.firstWantMs },
      polls: { shift: shiftPoll, promote: promotePoll, rollback: rollbackPoll },
      promoted: seenAfter(samples, promote.returnedAt, rollback.startedAt, '2'),
      rolledBack: seenAfter(samples, rollback.returnedAt, end, '1'),
    };
    console.log(`${o.label} per phase:\n${formatReport(report)}`);
    console.log(
      `${o.label} summary: live 10 % → v2: ${(result.weighted.share * 100).toFixed(2)} % of ${w.calls} calls (${v2} by v2, first ${w.firstWantMs} ms after the CLI); ` +
        `${report.total.calls} calls under load, ${report.total.failed} failed, ${report.total.callsPerSecond}/s; ` +
        `switch seen by a poller: 10 % to v2 ${shiftPoll} ms, promote ${promotePoll} ms, roll back ${rollbackPoll} ms; ` +
        `last call on the old version sent ${result.promoted.lastOtherMs} ms (promote) and ${result.rolledBack.lastOtherMs} ms (roll back) after the CLI returned`,
    );
    return result;
  } finally {
    report ??= await load.stop();
  }
}

/** What the canary must show: 0 failed, v2's share within ±2 points over ≥ 5,000 calls, each change seen within a second. */
export function expectCanaryHeld(r: CanaryResult): void {
  expect(r.report.phases.map((p) => [p.phase, p.failed]).filter(([, f]) => f !== 0), r.report.examples.join('\n')).toEqual([]);
  expect(r.report.total.failed).toBe(0);
  expect(r.weighted.calls).toBeGreaterThanOrEqual(MIN_WEIGHTED_CALLS);
  expect(Math.abs(r.weighted.share - SHARE), `share of v2 ${r.weighted.share}`).toBeLessThanOrEqual(SHARE_TOLERANCE);
  // Seen within a second: by the poller, by the load's first v2 call, and no caller got the old version once a second had passed.
  for (const [what, ms] of Object.entries(r.polls)) expect(ms, what).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
  expect(r.weighted.firstV2Ms).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
  expect(r.promoted.calls).toBeGreaterThan(0);
  expect(r.rolledBack.calls).toBeGreaterThan(0);
  expect(r.promoted.lastOtherMs).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
  expect(r.rolledBack.lastOtherMs).toBeLessThanOrEqual(SWITCH_WITHIN_MS);
}
