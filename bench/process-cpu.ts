// The CPU time of the processes a benchmark measures, read from Linux's /proc:
// the benches print it per call beside latency, because a shared machine's
// load stretches latency far more than it changes what a call costs.
import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every Linux Node runs on). */
const CLOCK_TICKS = 100;

/** User + system CPU time `pid` has used so far, in µs; NaN once it is gone (or without /proc). */
export function processCpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** The CPU time of these processes together, in µs; NaN if one of them is gone. */
export function cpuMicros(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
}

/** `pid` and its descendants (a Python runtime's workers, nginx's, the emulator's runtime). */
export function processTree(pid: number): number[] {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter((c) => c.trim() !== '');
  } catch {
    // No such process, or a kernel without CONFIG_PROC_CHILDREN: the process alone.
  }
  return [pid, ...children.flatMap((c) => processTree(Number(c)))];
}
