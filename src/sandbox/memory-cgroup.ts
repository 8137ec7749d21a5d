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

  /** Kills whatever a container left behind (children of its main process), then removes the cgroup. */
  async destroy(): Promise<void> {
    await killTree(this.path);
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function childCgroups(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(path, e.name));
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

async function procsOf(path: string): Promise<number[]> {
  try {
    return (await readFile(join(path, 'cgroup.procs'), 'utf8')).split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return [];
  }
}

/**
 * rmdir children first: cgroup directories hold only control files and go
 * with rmdir. Another teardown may remove part of the tree at the same time
 * (a container's cgroup while its pod's goes), so a vanished directory counts
 * as removed. True when the tree is gone.
 */
export async function removeTree(path: string): Promise<boolean> {
  if (!existsSync(path)) return true;
  for (const child of await childCgroups(path)) await removeTree(child);
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(path);
      return true;
    } catch (err) {
      if (isMissing(err)) return true;
      await sleep(50);
    }
  }
  return !existsSync(path);
}

/**
 * SIGKILLs every process in the cgroup tree until none is left, then removes
 * it. Returns the pids it had to kill (with their command lines, read before
 * the kill), so a caller can say what a teardown had left, and whether the
 * tree is gone.
 */
export async function killTree(path: string): Promise<{ killed: string[]; removed: boolean }> {
  const killed: string[] = [];
  const seen = new Set<number>();
  const all = async (p: string): Promise<number[]> => [...(await procsOf(p)), ...(await Promise.all((await childCgroups(p)).map(all))).flat()];
  for (let i = 0; i < 100 && existsSync(path); i++) {
    const pids = await all(path);
    if (pids.length === 0) break;
    for (const pid of pids) {
      if (!seen.has(pid)) {
        seen.add(pid);
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').then((c) => c.split('\0').filter((w) => w !== '').join(' '), () => '?');
        killed.push(`${pid} (${cmd})`);
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(50);
  }
  return { killed, removed: await removeTree(path) };
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
