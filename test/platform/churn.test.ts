// No call lost when things change, in the embedded default (`hearth up`):
// 8 kept-alive clients that never retry call a Python function at ≥ 100
// calls/s while, in phases, its YAML file is edited (code, then env), the
// file is written non-atomically as editors do (truncated, then written in
// two steps), extra slow calls scale it 1 → N → 1, it is scaled to zero
// under load, the platform stops instances that hold calls, and idle
// runtime processes are SIGKILLed. Every sync answer
// must be a 200 with the body of the old or the new code, every Event
// accepted meanwhile must succeed at its first attempt. Real runtimes, real
// processes, loopback only; each phase and each wait is bounded.
//
// The platform runs in this process (startEmbedded over a directory, as
// `hearth up` does: the same file watcher, the same YAML path) so the kill
// phase can see which runtime is idle and the scale-to-zero phase can take
// the autoscaler's own path (backend.scale(0)) while calls keep coming.
import { openSync, closeSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalInstance } from '../../src/backends/local/local-instance.js';
import { processGone } from '../../src/backends/local/process-gone.js';
import { CHURN_FN, CHURN_INVOKE, churnAnswer, churnYaml } from '../helpers/churn-function.js';
import { capturedLogger } from '../helpers/log-capture.js';
import { startPlatform } from '../helpers/platform.js';
import { EventSender, failureReason, formatReport, SteadyLoad, type LoadReport } from '../helpers/steady-load.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const FN = CHURN_FN;
const INVOKE = CHURN_INVOKE;
const MIN_RATE = 100;

/** Which answers are right at the moment: the old or the new code's (and env's) body. */
class Expected {
  readonly versions = new Set<string>();
  readonly greetings = new Set<string>();
  /** Every body ever right, for async events whose run may straddle a phase. */
  readonly everVersions = new Set<string>();

  constructor(version: string, greeting: string) {
    this.versions.add(version);
    this.greetings.add(greeting);
    this.everVersions.add(version);
  }

  check(body: string, versions: ReadonlySet<string> = this.versions): string | undefined {
    const a = churnAnswer(body);
    if ('error' in a) return a.error;
    if (!versions.has(a.version)) return `unexpected version ${a.version}`;
    if (versions === this.versions && !this.greetings.has(a.greeting)) return `unexpected greeting ${a.greeting}`;
    return undefined;
  }
}

describe('no call lost while things change (embedded platform)', () => {
  let platform: Platform;
  let file: string;
  // The platform's warnings, to see that the watcher did read the half-written files.
  const log = capturedLogger('warn');
  beforeAll(async () => {
    platform = await startPlatform({}, { retryTimeScale: 0.01, logger: log.logger }, { [`${FN}.yaml`]: churnYaml('v1', 'a') });
    file = join(platform.dir, `${FN}.yaml`);
  }, 60_000);
  afterAll(async () => platform?.close(), 60_000);

  const instances = (): LocalInstance[] => platform.backend.instances(FN).filter((i): i is LocalInstance => i instanceof LocalInstance);
  const ready = (): LocalInstance[] => instances().filter((i) => i.state === 'ready');

  /** Every instance runs the version the backend deploys now, one at least is ready, and old ones are gone. */
  async function rolledOut(what: string): Promise<void> {
    await waitFor(what, () => {
      const all = instances();
      const versions = new Set(all.map((i) => i.version));
      return versions.size === 1 && all.some((i) => i.state === 'ready') && all.every((i) => i.state === 'ready' || i.state === 'starting');
    }, 30_000, 50);
  }

  it('8 kept-alive clients, ≥ 100 calls/s, through YAML edits, half-written files, 1 → N → 1, scale to zero and runtime kills: 0 failed calls, every accepted event succeeds', async () => {
    const expected = new Expected('v1', 'a');
    const check = (status: number, body: string): string | undefined => (status === 200 ? expected.check(body) : failureReason(status, body));
    const load = new SteadyLoad({ origin: platform.url, path: INVOKE, clients: 8, check, pauseMs: 10, callTimeoutMs: 30_000, body: (c, n) => JSON.stringify({ c, n }) });
    const events = new EventSender((n) => fetch(`${platform.url}${INVOKE}`, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: JSON.stringify({ event: n }), signal: AbortSignal.timeout(10_000) }), 200);
    const notes: string[] = [];
    const phase = (name: string): void => {
      load.phase(name);
      console.log(`[churn] phase: ${name}`);
    };
    /** A new body is right from the moment its file is written until the old one is gone. */
    const change = async (version: string, greeting: string, write: () => Promise<void> | void): Promise<void> => {
      const oldVersions = [...expected.versions];
      const oldGreetings = [...expected.greetings];
      expected.versions.add(version);
      expected.everVersions.add(version);
      expected.greetings.add(greeting);
      const before = new Set(instances().map((i) => i.version));
      await write();
      await waitFor('the new version deployed', () => instances().some((i) => !before.has(i.version)), 20_000, 20);
      await rolledOut('the rollout done');
      for (const v of oldVersions) if (v !== version) expected.versions.delete(v);
      for (const g of oldGreetings) if (g !== greeting) expected.greetings.delete(g);
    };

    load.start('steady');
    events.start();
    let report: LoadReport | undefined;
    try {
      await sleep(4_000);

      phase('code change (YAML edit)');
      await change('v2', 'a', () => writeFileSync(file, churnYaml('v2', 'a')));
      await sleep(2_000);

      phase('env change (YAML edit)');
      await change('v2', 'b', () => writeFileSync(file, churnYaml('v2', 'b')));
      await sleep(2_000);

      phase('half-written YAML');
      // As editors save: truncate, (pause), write; the half-written file stays
      // until the watcher has read it. Cut once where YAML cannot parse and once where
      // the document is valid YAML but not a Function (no code yet). A cut
      // inside the code itself would be a valid new version and no parser
      // could tell; editors' writes are faster than the watcher's 50 ms
      // settle time, which is what covers that case.
      const keptReads = (): number => log.lines.filter((l) => l.includes('is empty or invalid')).length;
      let kept = keptReads();
      const sawHalf = async (): Promise<void> => {
        await waitFor('the watcher to read the half-written file', () => keptReads() > kept, 5_000, 20);
        kept = keptReads();
      };
      await change('v3', 'b', async () => {
        const fd = openSync(file, 'w');
        await sawHalf();
        writeSync(fd, churnYaml('v3', 'b'));
        closeSync(fd);
      });
      const syntaxCut = churnYaml('v4', 'c');
      await change('v4', 'c', async () => {
        const at = syntaxCut.indexOf('  handler:') + 5;
        const fd = openSync(file, 'w');
        writeSync(fd, syntaxCut.slice(0, at));
        await sawHalf();
        writeSync(fd, syntaxCut.slice(at));
        closeSync(fd);
      });
      const schemaCut = churnYaml('v5', 'c');
      await change('v5', 'c', async () => {
        const at = schemaCut.indexOf('  code:');
        const fd = openSync(file, 'w');
        writeSync(fd, schemaCut.slice(0, at));
        await sawHalf();
        writeSync(fd, schemaCut.slice(at));
        closeSync(fd);
      });
      await sleep(1_000);

      phase('scale 1 → N → 1');
      // Slow calls on top of the steady load need more instances; they must not fail either.
      const burst = new SteadyLoad({ origin: platform.url, path: INVOKE, clients: 16, check, callTimeoutMs: 30_000, body: () => JSON.stringify({ sleep: 1 }) });
      burst.start('burst');
      let peak = 1;
      try {
        await waitFor('scaled out', () => (peak = Math.max(peak, ready().length)) >= 2, 30_000, 50);
        await sleep(2_000);
        peak = Math.max(peak, ready().length);
      } finally {
        const b = await burst.stop();
        console.log(`[churn] slow calls on top:\n${formatReport(b)}`);
        expect(b.total.failed, b.examples.join('\n')).toBe(0);
      }
      // The autoscaler's stable window (6 s) passes, then it stops the extra instances.
      await waitFor('back to one instance', () => instances().length === 1 && ready().length === 1, 30_000, 100).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}: ${instances().map((i) => `${i.id} ${i.state} load ${i.load}`).join(', ')}`);
      });
      notes.push(`peak ready instances: ${peak}`);

      phase('scale to zero and back');
      for (let n = 0; n < 3; n++) {
        const before = new Set(instances().map((i) => i.id));
        // What the autoscaler does when it decides zero, while calls keep
        // coming: the last instance drains and stops, and the calls that
        // arrive meanwhile must wait for a new one.
        await platform.backend.scale(FN, 0);
        await waitFor('a new instance serving', () => ready().some((i) => !before.has(i.id)), 20_000, 20);
        await sleep(1_000);
      }

      phase('scale-down of busy instances');
      // Three instances share the clients and slow calls on top (the
      // dispatcher picks the least loaded); once each holds calls the
      // platform stops two (backend.scale, as the autoscaler does): they
      // leave the rotation at once and drain what they hold before stopping.
      let busyVictims = 0;
      for (let n = 0; n < 2; n++) {
        const slow = new SteadyLoad({ origin: platform.url, path: INVOKE, clients: 6, check, callTimeoutMs: 30_000, body: () => JSON.stringify({ sleep: 0.5 }) });
        slow.start('slow');
        try {
          await platform.backend.scale(FN, 3);
          await waitFor('three busy instances', () => {
            const r = ready();
            if (r.length === 3 && r.every((i) => i.load > 0)) return true;
            // The autoscaler, which wants one, may stop the extra ones first: ask again.
            if (r.length < 3 && instances().every((i) => i.state !== 'starting')) void platform.backend.scale(FN, 3);
            return false;
          }, 20_000, 5);
          await platform.backend.scale(FN, 1);
          busyVictims += instances().filter((i) => i.state === 'draining' && i.load > 0).length;
        } finally {
          const r = await slow.stop();
          expect(r.total.failed, r.examples.join('\n')).toBe(0);
        }
        await waitFor('back at one instance', () => instances().length === 1 && ready().length === 1, 20_000, 20);
      }
      notes.push(`instances stopped while holding calls: ${busyVictims}`);
      expect(busyVictims).toBeGreaterThan(0);
      await sleep(1_000);

      phase('idle runtime SIGKILLed');
      // Honest kills: a runtime is killed only at a moment its agent holds no
      // call (nothing queued, nothing handed over; the clients' 10 ms pauses
      // make such moments common), checked in the same synchronous turn as
      // the kill, so no call is running in it. This process then waits,
      // synchronously still, until the kernel has made it a zombie, so no
      // call is handed over between the check and the death: every call
      // after it was sent to a dead runtime and must wait for the restart.
      // (Outside a test a call can also reach a runtime in the instant between
      // kill(2) and its death and fail with Runtime.ExitError, as a call
      // running in a killed runtime does on Lambda too; this phase kills no
      // busy runtime, so any failure here is the platform's.)
      let kills = 0;
      for (let n = 0; n < 6; n++) {
        const victim = await waitFor('a ready instance', () => ready()[0], 10_000, 20);
        const pid = await waitFor('an idle moment', () => killIfIdle(victim), 10_000, 0);
        kills++;
        await waitFor('the runtime restarted', () => victim.state === 'ready' && victim.agent.pid !== pid, 20_000, 20);
        await sleep(500);
      }
      notes.push(`idle runtimes killed: ${kills}`);
      await sleep(1_000);
    } finally {
      await events.stop();
      report = await load.stop();
      console.log(`[churn] per phase (embedded):\n${formatReport(report)}\n${notes.join('\n')}`);
    }

    expect(report.total.callsPerSecond).toBeGreaterThanOrEqual(MIN_RATE);
    expect(report.phases.filter((p) => p.ok === 0)).toEqual([]);
    expect(report.phases.map((p) => [p.phase, p.failed]).filter(([, f]) => f !== 0), report.examples.join('\n')).toEqual([]);

    console.log(`[churn] async events: ${events.accepted.length} accepted, ${events.refused.length} refused`);
    expect(events.refused).toEqual([]);
    expect(events.accepted.length).toBeGreaterThan(50);
    const records = await waitFor('every accepted event finished', async () => {
      const all = await Promise.all(events.accepted.map(async (id) => {
        const r = await fetch(`${platform.url}/invocations/${id}`);
        return (await r.json()) as { requestId: string; status: string; attempts: number; systemErrors: number; result?: { payload: string } };
      }));
      return all.every((r) => r.status === 'succeeded' || r.status === 'failed' || r.status === 'dead-lettered') ? all : undefined;
    }, 30_000, 500);
    const bad = records.filter((r) => r.status !== 'succeeded' || r.attempts !== 1 || r.systemErrors !== 0 || expected.check(r.result?.payload ?? '', expected.everVersions) !== undefined);
    expect(bad).toEqual([]);
  }, 120_000);
});

/**
 * SIGKILLs the instance's runtime if its agent holds no call right now, and
 * returns once the kernel has made it a zombie; undefined when it was busy.
 */
function killIfIdle(inst: LocalInstance): number | undefined {
  const pid = inst.agent.pid;
  if (inst.state !== 'ready' || inst.agent.load !== 0 || pid === undefined) return undefined;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 2_000;
  while (!processGone(pid)) {
    if (Date.now() > deadline) throw new Error(`runtime ${pid} still alive 2 s after SIGKILL`);
  }
  return pid;
}
