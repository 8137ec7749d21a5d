// Whether a runtime process has ended, as the kernel says it now. Node hears
// of a child's death only when it reaps it (SIGCHLD, a turn of the event
// loop or more later), and until then the dead runtime's /next connections
// may look open to its agent: an event handed over in that gap would go to
// a runtime that can never run it.
import { readFileSync } from 'node:fs';

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
