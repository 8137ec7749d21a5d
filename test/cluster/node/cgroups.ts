// Memory limits through the cgroup v1 memory controller (what this kind of
// machine offers): one cgroup per container under the node's own root, so
// the teardown check can see that every process left and every cgroup went.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const MEMORY_ROOT = '/sys/fs/cgroup/memory';

export function memoryCgroupAvailable(): boolean {
  return existsSync(join(MEMORY_ROOT, 'cgroup.procs'));
}

export class MemoryCgroup {
  constructor(readonly path: string) {}

  static async create(path: string, limitBytes: number | undefined): Promise<MemoryCgroup> {
    await mkdir(path, { recursive: true });
    const cg = new MemoryCgroup(path);
    if (limitBytes !== undefined) {
      await writeFile(join(path, 'memory.limit_in_bytes'), String(limitBytes));
      // No swap here to fall back on, but say so, in case the machine has some.
      await writeFile(join(path, 'memory.swappiness'), '0').catch(() => undefined);
    }
    return cg;
  }

  async oomKills(): Promise<number> {
    try {
      const text = await readFile(join(this.path, 'memory.oom_control'), 'utf8');
      const m = /oom_kill (\d+)/.exec(text);
      return m?.[1] === undefined ? 0 : Number(m[1]);
    } catch {
      return 0;
    }
  }

  async pids(): Promise<number[]> {
    try {
      const text = await readFile(join(this.path, 'cgroup.procs'), 'utf8');
      return text.split('\n').filter((l) => l !== '').map(Number);
    } catch {
      return [];
    }
  }

  /** Kills whatever a container left behind (children of its main process), then removes the cgroup. */
  async destroy(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const pids = await this.pids();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sleep(50);
    }
    await removeTree(this.path);
  }
}

/** rmdir children first: cgroup directories hold only control files and go with rmdir. */
export async function removeTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const entries = await readdir(path, { withFileTypes: true });
  for (const e of entries) if (e.isDirectory()) await removeTree(join(path, e.name));
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(path);
      return;
    } catch {
      await sleep(50);
    }
  }
}

/** "128Mi" → bytes; kubelet's quantity grammar for the suffixes pods use. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)([KMGTPE]i?|[kmM]?)$/.exec(q.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const bin: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  const dec: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };
  const mult = bin[unit] ?? dec[unit];
  return mult === undefined ? undefined : Math.floor(n * mult);
}
