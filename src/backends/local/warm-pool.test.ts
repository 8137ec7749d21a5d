import { spawn, type ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REFILL_DELAY_MS, WarmPool } from './warm-pool.js';

const started: ChildProcess[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of started.splice(0)) c.kill('SIGKILL');
});

function sleeper(): ChildProcess {
  const c = spawn('/bin/sleep', ['30'], { stdio: 'pipe' });
  started.push(c);
  return c;
}

describe('WarmPool', () => {
  it('starts the replacement of a taken process only after the cold start it serves has had its head start', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const pool = new WarmPool(1, pino({ level: 'silent' }));
    const start = vi.fn(sleeper);
    pool.ensure('k', { command: '/bin/sleep', args: ['30'], env: {} }, start);
    expect(start).toHaveBeenCalledTimes(1);
    const taken = pool.take('k');
    expect(taken).toBe(started[0]);
    await new Promise((r) => setImmediate(r));
    expect(start).toHaveBeenCalledTimes(1);
    expect(pool.idleCount('k')).toBe(0);
    vi.advanceTimersByTime(REFILL_DELAY_MS);
    expect(start).toHaveBeenCalledTimes(2);
    expect(pool.idleCount('k')).toBe(1);
    await pool.close();
  });
});
