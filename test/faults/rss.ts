// The resident set of another process on this machine, read from /proc: what
// the attack suites measure a child gateway's memory by.
import { readFileSync } from 'node:fs';

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}
