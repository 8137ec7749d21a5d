// Calls per second and latency while the embedded platform changes, beside
// the same clients on the same platform while nothing changes, in one run:
// 8 kept-alive clients call the churn function back to back (never
// retrying) for a steady window, then for a churn window in which its YAML
// file is edited (code, then env) and the platform scales it out to three
// instances (the autoscaler stops two again) and to zero (the next calls
// start one). Any failed call is a failure of the benchmark. Loopback only;
// every window and wait is bounded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startEmbedded } from '../src/platform/embedded.js';
import { CHURN_FN, CHURN_INVOKE, churnAnswer, churnYaml } from '../test/helpers/churn-function.js';
import { failureReason, SteadyLoad, type PhaseCounts } from '../test/helpers/steady-load.js';
import type { Row } from './report.js';

const CLIENTS = 8;
const WARMUP_MS = 2_000;
const WINDOW_MS = 15_000;
/** One change every this often during the churn window. */
const CHANGE_EVERY_MS = 1_500;

export async function benchChurn(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-churn-'));
  const file = join(dir, `${CHURN_FN}.yaml`);
  writeFileSync(file, churnYaml('v0', 'g0'));
  const platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  // Any version and greeting this function has had is a good answer: the bench counts speed, the churn suite checks which body.
  const check = (status: number, body: string): string | undefined => {
    if (status !== 200) return failureReason(status, body);
    const a = churnAnswer(body);
    return 'error' in a ? a.error : undefined;
  };
  const load = new SteadyLoad({ origin: platform.url, path: CHURN_INVOKE, clients: CLIENTS, check, callTimeoutMs: 30_000 });
  let steady: PhaseCounts | undefined;
  let churn: PhaseCounts | undefined;
  let changes = 0;
  try {
    load.start('warm-up');
    await sleep(WARMUP_MS);
    load.phase('steady');
    await sleep(WINDOW_MS);
    load.phase('churn');
    const end = Date.now() + WINDOW_MS;
    for (let n = 1; Date.now() < end; n++) {
      const started = Date.now();
      switch (n % 4) {
        case 1:
          writeFileSync(file, churnYaml(`v${n}`, `g${n}`));
          break;
        case 2:
          // The autoscaler, which wants one instance for this load, stops the two others again.
          await platform.backend.scale(CHURN_FN, 3);
          break;
        case 3:
          writeFileSync(file, churnYaml(`v${n - 2}`, `g${n}`));
          break;
        case 0:
          // The last instance drains and stops; the calls that come meanwhile start another.
          await platform.backend.scale(CHURN_FN, 0);
          break;
      }
      changes++;
      await sleep(Math.max(0, Math.min(CHANGE_EVERY_MS - (Date.now() - started), end - Date.now())));
    }
    const report = await load.stop();
    steady = report.phases.find((p) => p.phase === 'steady');
    churn = report.phases.find((p) => p.phase === 'churn');
    if (report.total.failed > 0) throw new Error(`${report.total.failed} calls failed: ${report.examples.join('\n')}`);
  } finally {
    await load.stop(); // again, if the window ended early: it returns at once otherwise
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (!steady || !churn) throw new Error('a window measured nothing');
  return [
    { name: 'steady: nothing changes', p50Ms: steady.p50Ms, p99Ms: steady.p99Ms, rps: steady.callsPerSecond, note: `baseline: ${CLIENTS} kept-alive clients, ${steady.calls} calls, 0 failed` },
    {
      name: 'churn: YAML edits, scale 1 → 3 → 1, to zero',
      p50Ms: churn.p50Ms,
      p99Ms: churn.p99Ms,
      rps: churn.callsPerSecond,
      note: `same clients, same platform; ${changes} changes in ${WINDOW_MS / 1000} s, ${churn.calls} calls, ${churn.failed} failed`,
    },
  ];
}
