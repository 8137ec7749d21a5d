import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { deadState, noMemory, processGone, ProcessWatch } from './process-gone.js';

describe.skipIf(process.platform !== 'linux')('ProcessWatch', () => {
  it('says alive, then gone once killed (a zombie not yet reaped), then gone once reaped, as processGone does', async () => {
    const child = spawn('sleep', ['30']);
    const pid = child.pid ?? 0;
    const watch = new ProcessWatch();
    try {
      expect(watch.gone(pid)).toBe(false);
      expect(watch.gone(pid)).toBe(false);
      const exited = once(child, 'exit');
      process.kill(pid, 'SIGKILL');
      // Before Node reaps it (no turn of the event loop yet) the kernel already shows it dead.
      for (const end = Date.now() + 2000; !watch.gone(pid); ) if (Date.now() > end) throw new Error('still alive');
      expect(processGone(pid)).toBe(true);
      await exited;
      expect(watch.gone(pid)).toBe(true);
    } finally {
      watch.close();
      child.kill('SIGKILL');
    }
  });

  it('follows the instance to its next process', async () => {
    const watch = new ProcessWatch();
    const a = spawn('sleep', ['30']);
    const b = spawn('sleep', ['30']);
    try {
      expect(watch.gone(a.pid ?? 0)).toBe(false);
      a.kill('SIGKILL');
      await once(a, 'exit');
      expect(watch.gone(a.pid ?? 0)).toBe(true);
      expect(watch.gone(b.pid ?? 0)).toBe(false);
    } finally {
      watch.close();
      b.kill('SIGKILL');
    }
  });

  it('reads a process without memory (exiting, a zombie) off statm, and only that', () => {
    const read = (text: string): boolean => noMemory(Buffer.from(text), Buffer.byteLength(text));
    expect(read('0 0 0 0 0 0 0\n')).toBe(true);
    expect(read('4144 3387 1670 1 0 2022 0\n')).toBe(false);
    expect(read('0123 1 1 1 0 1 0\n')).toBe(false);
    expect(read('')).toBe(false);
  });

  it('reads the state after the command name, whatever it holds', () => {
    expect(deadState('12 (a) b) Z 1 2')).toBe(true);
    expect(deadState('12 (sleep) S 1 2')).toBe(false);
  });
});
