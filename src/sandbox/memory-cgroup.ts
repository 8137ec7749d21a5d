// Memory limits through the cgroup memory controller, v1 (this kind of
// machine: /sys/fs/cgroup/memory) or v2 (a unified hierarchy holding the
// memory controller), found by detection. One cgroup per sandbox or
// container, so a limit covers every process of it, an OOM kill can be
// counted, and a teardown can see that every process left and the cgroup went.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const MEMORY_ROOT = '/sys/fs/cgroup/memory';
export const UNIFIED_ROOT = '/sys/fs/cgroup';

export type CgroupVersion = 1 | 2;

export function memoryCgroupAvailable(): boolean {
  return existsSync(join(MEMORY_ROOT, 'cgroup.procs'));
}

/** Which memory controller this machine offers, and where its hierarchy starts. */
export function detectMemoryCgroup(): { version: CgroupVersion; root: string } | undefined {
  if (memoryCgroupAvailable()) return { version: 1, root: MEMORY_ROOT };
  try {
    if (unifiedHasMemory(readFileSync(join(UNIFIED_ROOT, 'cgroup.controllers'), 'utf8'))) return { version: 2, root: UNIFIED_ROOT };
  } catch {
    // no unified hierarchy either
  }
  return undefined;
}

/** cgroup.controllers of a v2 hierarchy lists the memory controller. */
export function unifiedHasMemory(controllers: string): boolean {
  return controllers.split(/\s+/).includes('memory');
}

/** The control files (and values) that set a memory limit; the swap file is best effort (absent without swap accounting). */
export function limitWrites(version: CgroupVersion, bytes: number): { file: string; value: string; optional: boolean }[] {
  if (version === 1) return [{ file: 'memory.limit_in_bytes', value: String(bytes), optional: false }, { file: 'memory.swappiness', value: '0', optional: true }];
  return [{ file: 'memory.max', value: String(bytes), optional: false }, { file: 'memory.swap.max', value: '0', optional: true }];
}

/** The file that counts OOM kills: v1 memory.oom_control, v2 memory.events, both as a line `oom_kill N`. */
export function oomFile(version: CgroupVersion): string {
  return version === 1 ? 'memory.oom_control' : 'memory.events';
}

export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

export class MemoryCgroup {
  constructor(
    readonly path: string,
    readonly version: CgroupVersion = 1,
  ) {}

  static async create(path: string, limitBytes: number | undefined, version: CgroupVersion = 1): Promise<MemoryCgroup> {
    if (version === 2) await enableMemoryBelow(dirname(path));
    await mkdir(path, { recursive: true });
    const cg = new MemoryCgroup(path, version);
    if (limitBytes !== undefined) await cg.setLimit(limitBytes);
    return cg;
  }

  /** As create, for a caller that must start the process right after (a cgroup is a mkdir and a write or two). */
  static createSync(path: string, limitBytes: number | undefined, version: CgroupVersion = 1): MemoryCgroup {
    if (version === 2) enableMemoryBelowSync(dirname(path));
    mkdirSync(path, { recursive: true });
    if (limitBytes !== undefined) {
      for (const w of limitWrites(version, limitBytes)) {
        try {
          writeFileSync(join(path, w.file), w.value);
        } catch (err) {
          if (!w.optional) throw err;
        }
      }
    }
    return new MemoryCgroup(path, version);
  }

  async setLimit(bytes: number): Promise<void> {
    for (const w of limitWrites(this.version, bytes)) {
      const done = writeFile(join(this.path, w.file), w.value);
      // No swap here to fall back on, but say so, in case the machine has some.
      await (w.optional ? done.catch(() => undefined) : done);
    }
  }

  /** Where a process writes its own pid to join (before it starts what the limit is for). */
  get procsFile(): string {
    return join(this.path, 'cgroup.procs');
  }

  async oomKills(): Promise<number> {
    try {
      return parseOomKills(await readFile(join(this.path, oomFile(this.version)), 'utf8'));
    } catch {
      return 0;
    }
  }

  /** As oomKills, for an exit handler that must decide before anything else runs. */
  oomKillsSync(): number {
    try {
      return parseOomKills(readFileSync(join(this.path, oomFile(this.version)), 'utf8'));
    } catch {
      return 0;
    }
  }

  /** Kills whatever is left in it (children of its main process that moved away), then removes the cgroup. */
  async destroy(): Promise<void> {
    // v2 kills the whole tree in one write; the loop below then only confirms and removes.
    if (this.version === 2) await writeFile(join(this.path, 'cgroup.kill'), '1').catch(() => undefined);
    await killTree(this.path);
  }
}

function enableMemoryBelowSync(parent: string): void {
  if (!parent.startsWith(UNIFIED_ROOT + '/') && parent !== UNIFIED_ROOT) return;
  if (parent !== UNIFIED_ROOT) {
    enableMemoryBelowSync(dirname(parent));
    mkdirSync(parent, { recursive: true });
  }
  try {
    writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory');
  } catch {
    // already delegated, or not ours to change: the limit write will tell
  }
}

/** v2 places limits on a cgroup only when its parent delegates the memory controller to its children. */
async function enableMemoryBelow(parent: string): Promise<void> {
  if (!parent.startsWith(UNIFIED_ROOT + '/') && parent !== UNIFIED_ROOT) return;
  if (parent !== UNIFIED_ROOT) {
    await enableMemoryBelow(dirname(parent));
    await mkdir(parent, { recursive: true });
  }
  await writeFile(join(parent, 'cgroup.subtree_control'), '+memory').catch(() => undefined);
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
