// Whether a runtime process has ended, as the kernel says it now. Node hears
// of a child's death only when it reaps it (SIGCHLD, a turn of the event
// loop or more later), and until then the dead runtime's /next connections
// may look open to its agent: an event handed over in that gap would go to
// a runtime that can never run it.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/** The process is no longer there, or is a zombie not yet reaped. Linux only (/proc); elsewhere false, and the exit event alone tells. */
export function processGone(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (err) {
    return process.platform === 'linux' && (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  return deadState(stat);
}

/** The state field of /proc/PID/stat (after the command name, which may itself hold spaces and parentheses) is Z or X. */
export function deadState(stat: string): boolean {
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state === 'Z' || state === 'X';
}

/**
 * processGone for the runtime of one instance, asked before every invocation:
 * /proc/PID/statm is opened once and re-read with one pread per call instead
 * of readFileSync's open, fstat, read and close (four syscalls, each a point
 * where a loaded machine takes the CPU away) and a string per call. statm,
 * not stat: the kernel builds stat's 52 fields (times summed over threads,
 * under locks) on every read, 4 % of the gateway's CPU under the gateway
 * bench, while statm reads a few counters of the process's memory, and a
 * process that has let go of its memory (exiting, or a zombie) reads
 * "0 0 0 0 0 0 0": no user process runs without a mapped page. The open
 * descriptor stays bound to that process: once it is reaped the read fails
 * with ESRCH, even if its pid has been given to another process since.
 */
export class ProcessWatch {
  #pid: number | undefined;
  #fd: number | undefined;
  // Seven counters of at most 20 digits each and their spaces fit well within it; the first one is all this reads.
  readonly #buf = Buffer.alloc(160);

  /** Whether process `pid` has ended (or is a zombie not yet reaped). */
  gone(pid: number): boolean {
    if (pid !== this.#pid || this.#fd === undefined) {
      this.close();
      try {
        this.#fd = openSync(`/proc/${pid}/statm`, 'r');
      } catch (err) {
        return process.platform === 'linux' && (err as NodeJS.ErrnoException).code === 'ENOENT';
      }
      this.#pid = pid;
    }
    let n: number;
    try {
      n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
    } catch {
      // ESRCH: reaped since the descriptor was opened.
      this.close();
      return true;
    }
    return noMemory(this.#buf, n);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#pid = undefined;
  }
}

const ZERO = 0x30; // '0'
const SPACE = 0x20;

/** Whether a read of /proc/PID/statm says the process holds no memory: its first field (total pages) is 0. Pure. */
export function noMemory(statm: Uint8Array, length: number): boolean {
  return length >= 2 && statm[0] === ZERO && statm[1] === SPACE;
}
