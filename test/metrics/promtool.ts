// Prometheus's own linter, `promtool check metrics` (Debian's prometheus
// package; make test installs it), over an exposition text on its stdin.
import { spawn } from 'node:child_process';

export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

export interface PromtoolResult {
  code: number | null;
  /** What it printed, stdout and stderr together: nothing when the text passes. */
  output: string;
}

export function promtool(args: readonly string[], stdin?: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => reject(new Error(`${PROMTOOL} could not run (${err.message}): install Debian's prometheus package (make deps-system)`)));
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(stdin ?? '');
  });
}

/** `promtool check metrics` of an exposition text. */
export const checkMetrics = (text: string): Promise<PromtoolResult> => promtool(['check', 'metrics'], text);
