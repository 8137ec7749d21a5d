// Starts runtime processes inside sandboxes (bubblewrap + a memory cgroup)
// and cleans up after each: one cgroup, one uid and, for a warm-pool process,
// one staging directory (two for a native runtime's) per process, all gone when the process is.
//
// A process is the unit because that is what dies: a runtime that crashes,
// is OOM-killed or overruns its timeout is replaced by a new process in a new
// sandbox, and whatever the old one left (a setsid'd grandchild) dies with
// its PID namespace, and with its cgroup as a backstop.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { reap } from '../agent/process-reaper.js';
import type { Writable } from 'node:stream';
import { OPTIONS_FD, sandboxCommand, type SandboxUser } from './bwrap-args.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { killTree, MemoryCgroup, removeTree, type CgroupVersion } from './memory-cgroup.js';
import type { SandboxSupport } from './support.js';
import { UidRange } from './uid-range.js';

export interface BoxSpec {
  /** Host directory shown at /var/task; 'staging' gives the process an empty one to be filled when it is claimed (claim()). */
  taskRoot: string | 'staging';
  /** Host directory shown at /var/runtime; 'staging' gives an empty one, filled at claim() (a native runtime's built binary). */
  runtimeDir?: string | 'staging';
  optDir?: string;
  /** Host paths shown read-only at the same path. */
  samePath: readonly string[];
  tmpSizeMB: number;
  /** The memory limit from the start; a pool process gets its own at claim(). */
  memoryMB?: number;
  /** The runtime, as paths inside the sandbox. */
  command: string;
  args: readonly string[];
  /** The whole environment of the runtime (bwrap passes its own on). */
  env: Readonly<Record<string, string>>;
}

export type ExitCause = 'oom';

interface Box {
  uid?: number;
  cgroup?: MemoryCgroup;
  staging?: string;
  runtimeStaging?: string;
  oomBefore: number;
  cause?: ExitCause;
  cleaned: Promise<void>;
}

export interface SandboxLauncherOptions {
  support: SandboxSupport;
  /** Where staging directories go: on the same file system as task roots, so they can be hard-linked. */
  stagingDir: string;
  setpriv?: string;
  logger: Logger;
}

export class SandboxLauncher {
  private readonly boxes = new Map<ChildProcess, Box>();
  private readonly uids = new UidRange();
  private readonly cgroupRoot: string | undefined;
  private readonly cgroupVersion: CgroupVersion | undefined;
  private readonly bwrap: string;
  private cgroupFailed = false;
  /** This launcher's staging directories, under one named for this process so that a later Hearth can tell a dead one's. */
  private readonly stagingRoot: string;

  constructor(private readonly opts: SandboxLauncherOptions) {
    const s = opts.support;
    if (!s.enabled || s.bwrap === undefined) throw new Error(`no sandbox can be made here: ${s.reason ?? 'unknown reason'}`);
    this.bwrap = s.bwrap;
    this.stagingRoot = join(opts.stagingDir, `${process.pid}-${randomBytes(3).toString('hex')}`);
    void sweepStaleStaging(opts.stagingDir);
    if (s.memoryCgroupDir !== undefined && s.memory !== 'none') {
      this.cgroupVersion = s.memory === 'cgroup-v1' ? 1 : 2;
      // One directory per backend: close() removes it whole, and a dead gateway's is recognisable by its pid.
      this.cgroupRoot = join(s.memoryCgroupDir, `hearth-${process.pid}-${randomBytes(3).toString('hex')}`);
      void sweepStaleCgroups(s.memoryCgroupDir, opts.logger);
    }
  }

  /** Whether memory limits are enforced. */
  get memoryEnforced(): boolean {
    return this.cgroupRoot !== undefined && !this.cgroupFailed;
  }

  spawn(spec: BoxSpec): ChildProcess {
    const box: Box = { oomBefore: 0, cleaned: Promise.resolve() };
    const user: SandboxUser = this.opts.support.perInstanceUser ? { kind: 'switch', uid: (box.uid = this.uids.take()), setpriv: this.opts.setpriv ?? '/usr/bin/setpriv' } : { kind: 'userns' };
    let taskRoot = spec.taskRoot;
    if (taskRoot === 'staging') {
      box.staging = join(this.stagingRoot, randomBytes(8).toString('hex'));
      mkdirSync(box.staging, { recursive: true, mode: 0o755 });
      taskRoot = box.staging;
    }
    let runtimeDir = spec.runtimeDir;
    if (runtimeDir === 'staging') {
      box.runtimeStaging = `${join(this.stagingRoot, randomBytes(8).toString('hex'))}-runtime`;
      mkdirSync(box.runtimeStaging, { recursive: true, mode: 0o755 });
      runtimeDir = box.runtimeStaging;
    }
    box.cgroup = this.makeCgroup(spec.memoryMB);
    const { command, args, options } = sandboxCommand({
      bwrap: this.bwrap,
      user,
      taskRoot,
      ...(runtimeDir !== undefined ? { runtimeDir } : {}),
      ...(spec.optDir !== undefined ? { optDir: spec.optDir } : {}),
      samePath: spec.samePath,
      tmpSizeMB: spec.tmpSizeMB,
      command: spec.command,
      args: spec.args,
      ...(box.cgroup !== undefined ? { cgroupProcs: box.cgroup.procsFile } : {}),
    });
    this.opts.logger.debug({ command, args }, 'starting a sandbox');
    const child = reap(spawn(command, args, { env: { ...spec.env }, stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: false }));
    const optionsPipe = child.stdio[OPTIONS_FD] as Writable | null;
    optionsPipe?.on('error', () => undefined);
    optionsPipe?.end(options);
    this.boxes.set(child, box);
    const done = (): void => {
      // Decided before anything else hears of the exit: the agent asks exitCause() from its own exit handler.
      if (box.cgroup !== undefined && box.cgroup.oomKillsSync() > box.oomBefore) box.cause = 'oom';
      box.cleaned = this.cleanUp(child, box);
    };
    child.once('exit', done);
    child.once('error', () => {
      if (child.pid === undefined) done();
    });
    return child;
  }

  /**
   * A pool process becomes one function's: its task root appears at /var/task
   * (and `runtimeDir`, if given, at a staging /var/runtime) and its memory limit is set.
   */
  async claim(child: ChildProcess, taskRoot: string, memoryMB: number, runtimeDir?: string): Promise<void> {
    const box = this.boxes.get(child);
    if (box === undefined) throw new Error('not a sandboxed process of this launcher');
    if (runtimeDir !== undefined && box.runtimeStaging === undefined) throw new Error('this pool process has no staging /var/runtime to fill');
    const { staging, runtimeStaging, cgroup } = box;
    // Independent steps, each a few round trips to libuv's threads: together, on the cold start's path.
    await Promise.all([
      staging !== undefined ? linkTree(taskRoot, staging) : undefined,
      runtimeDir !== undefined && runtimeStaging !== undefined ? linkTree(runtimeDir, runtimeStaging) : undefined,
      cgroup?.setLimit(memoryMB * 1024 * 1024),
      cgroup?.oomKills().then((n) => (box.oomBefore = n)),
    ]);
  }

  /** Why the process ended, when the sandbox knows better than its exit status (bwrap reports a SIGKILL as exit 137). */
  exitCause(child: ChildProcess): ExitCause | undefined {
    return this.boxes.get(child)?.cause;
  }

  /** Kills every sandbox and waits until each one's cgroup, staging directory and uid are given back. */
  async close(): Promise<void> {
    for (const child of this.boxes.keys()) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all([...this.boxes.values()].map((b) => b.cleaned));
    await this.waitForExits();
    await Promise.all([...this.boxes.values()].map((b) => b.cleaned));
    if (this.cgroupRoot !== undefined) await killTree(this.cgroupRoot);
    await rm(this.stagingRoot, { recursive: true, force: true });
  }

  /** Live sandboxes (for tests). */
  get live(): number {
    return this.boxes.size;
  }

  private async waitForExits(): Promise<void> {
    const pending = [...this.boxes.keys()].filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined);
    await Promise.all(pending.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve()))));
  }

  private makeCgroup(memoryMB: number | undefined): MemoryCgroup | undefined {
    if (this.cgroupRoot === undefined || this.cgroupVersion === undefined || this.cgroupFailed) return undefined;
    const path = join(this.cgroupRoot, randomBytes(6).toString('hex'));
    try {
      return MemoryCgroup.createSync(path, memoryMB === undefined ? undefined : memoryMB * 1024 * 1024, this.cgroupVersion);
    } catch (err) {
      this.cgroupFailed = true;
      this.opts.logger.warn({ err, path }, 'cannot make memory cgroups: memoryMB is not enforced');
      return undefined;
    }
  }

  private async cleanUp(child: ChildProcess, box: Box): Promise<void> {
    try {
      // The PID namespace died with bwrap; the cgroup catches anything that did not.
      if (box.cgroup !== undefined) {
        await box.cgroup.destroy();
        // The sandbox's last processes may still be zombies, waiting for whoever reaps them now (the host's init), and
        // keep the cgroup busy a while after bwrap's exit: try again for a few seconds.
        for (let i = 0; i < 10 && existsSync(box.cgroup.path); i++) {
          await sleep(500);
          await removeTree(box.cgroup.path);
        }
      }
      for (const dir of [box.staging, box.runtimeStaging]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    } catch (err) {
      this.opts.logger.warn({ err }, 'sandbox clean-up failed');
    } finally {
      if (box.uid !== undefined) this.uids.release(box.uid);
      // Kept until cleaned so that exitCause() still answers the exit handlers that run after ours.
      setImmediate(() => this.boxes.delete(child));
    }
  }
}

/** The task root's files in `dest` as hard links (copies across file systems), directories made and symlinks kept. */
export async function linkTree(src: string, dest: string): Promise<void> {
  // A directory's entries at once: a claim waits for the slowest, not the sum.
  await Promise.all((await readdir(src, { withFileTypes: true })).map(async (e) => {
    const from = join(src, e.name);
    const to = join(dest, e.name);
    if (e.isDirectory()) {
      await mkdir(to, { mode: 0o755 });
      await linkTree(from, to);
    } else if (e.isSymbolicLink()) {
      await symlink(await readlink(from), to);
    } else if (e.isFile()) {
      await link(from, to).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
        await copyFile(from, to);
      });
    }
  }));
}

/**
 * What Hearths that died without closing (SIGKILL) left in `dir`: entries whose
 * name carries the pid of a process that is gone. Their sandboxes died with
 * them (die-with-parent), so what is left is empty cgroups or staging files.
 */
async function sweepStale(dir: string, pidOf: RegExp, remove: (path: string) => Promise<void>): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = pidOf.exec(name)?.[1];
    if (pid !== undefined && !existsSync(`/proc/${pid}`)) await remove(join(dir, name)).catch(() => undefined);
  }
}

function sweepStaleCgroups(dir: string, logger: Logger): Promise<void> {
  return sweepStale(dir, /^hearth-(\d+)-[0-9a-f]+$/, async (path) => {
    const { killed, removed } = await killTree(path);
    logger.info({ cgroup: path, killed, removed }, 'removed the memory cgroups of a Hearth that is gone');
  });
}

function sweepStaleStaging(dir: string): Promise<void> {
  return sweepStale(dir, /^(\d+)-[0-9a-f]+$/, (path) => rm(path, { recursive: true, force: true }));
}
