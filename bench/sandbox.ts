// Sandbox benchmark: what running each instance in a sandbox (bubblewrap, a
// memory cgroup, its own uid; see src/sandbox/) adds to a cold start, beside
// the same cold start as a plain child process. The two backends take turns,
// trial by trial, so a busy moment of the machine falls on both alike.
import { pino } from 'pino';
import { LocalBackend } from '../src/backends/local/local-backend.js';
import { probeSandbox } from '../src/sandbox/support.js';
import { coldHow, coldName, coldSample, example, WORK, type Family } from './agent.js';
import { quantile, skipped, summarise, type Row } from './report.js';

const TRIALS = 16;
const silent = pino({ level: 'silent' });

async function pair(family: Family, poolSize: number): Promise<Row[]> {
  const fn = example(family);
  const plain = new LocalBackend({ cacheDir: WORK, logger: silent, warmPoolSize: poolSize, sandbox: false });
  const boxed = new LocalBackend({ cacheDir: WORK, logger: silent, warmPoolSize: poolSize, sandbox: true });
  try {
    await Promise.all([plain.upsert(fn), boxed.upsert(fn)]);
    const none: number[] = [];
    const sandboxed: number[] = [];
    // Hearth pools no plain native process (a binary has no start-up to save), so the plain go run waits for none.
    const plainPool = family === 'go' ? 0 : poolSize;
    for (let i = 0; i < TRIALS; i++) {
      none.push(await coldSample(plain, fn, plainPool));
      sandboxed.push(await coldSample(boxed, fn, poolSize));
    }
    const added = quantile(sandboxed, 0.5) - quantile(none, 0.5);
    const what = `scale(1) → first response, ${TRIALS} trials each, taking turns, ${coldHow(family, poolSize)}`;
    return [
      summarise(`${coldName(family, poolSize)}, no sandbox`, none, { note: what }),
      summarise(`${coldName(family, poolSize)}, sandbox`, sandboxed, { note: `p50 added by the sandbox: ${added.toFixed(1)} ms` }),
    ];
  } finally {
    await Promise.all([plain.close(), boxed.close()]);
  }
}

export async function benchSandbox(): Promise<Row[]> {
  const support = await probeSandbox();
  if (!support.enabled) return [skipped('sandboxed cold start', support.reason ?? 'no sandbox can be made here')];
  const rows: Row[] = [];
  for (const [family, pool] of [['python', 1], ['nodejs', 1], ['go', 1], ['python', 0], ['nodejs', 0], ['go', 0]] as const) {
    try {
      rows.push(...(await pair(family, pool)));
    } catch (err) {
      rows.push(skipped(`${coldName(family, pool)} with and without a sandbox`, (err as Error).message.split('\n')[0] ?? 'failed'));
    }
  }
  return rows;
}
