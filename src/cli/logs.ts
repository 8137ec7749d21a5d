// `hearth logs NAME`: a function's stdout/stderr on the embedded platform,
// from its size-capped log files (NAME.log.K … NAME.log.1, NAME.log; see
// backends/local/function-log.ts), and with --follow what comes next, across
// rotations.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { functionLogDir } from '../backends/local/cache-dir.js';

const HELP = `usage: hearth logs NAME [--lines N] [--follow] [--dir LOGDIR]

Prints the last lines a function of \`hearth up\` wrote to stdout and stderr,
kept in LOGDIR/NAME.log and its rotated files (NAME.log.1 …).

  --lines N, -n N  how many lines (default: 100; 0: everything kept)
  --follow, -f     then keep printing what the function writes, across rotations
  --dir LOGDIR     where the logs are (default: $XDG_CACHE_HOME/hearth/local/logs,
                   else ~/.cache/hearth/local/logs)`;

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The last `n` lines of files read newest first (0: all of them). Pure. */
export function lastLines(newestFirst: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (const text of newestFirst) {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    out.unshift(...(n > 0 ? lines.slice(-(n - out.length)) : lines));
    if (n > 0 && out.length >= n) break;
  }
  return out;
}

export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lines: { type: 'string', short: 'n', default: '100' },
      follow: { type: 'boolean', short: 'f', default: false },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [name] = positionals;
  const n = Number(values.lines);
  if (name === undefined || !NAME.test(name) || positionals.length > 1 || !Number.isSafeInteger(n) || n < 0) {
    console.error(HELP);
    return 2;
  }
  const dir = values.dir ?? functionLogDir();
  const path = join(dir, `${name}.log`);
  if (!existsSync(path) && !values.follow) {
    console.error(`hearth logs: no log for ${name} in ${dir} (has it run on this machine's hearth up?)`);
    return 1;
  }
  const texts: string[] = [];
  for (let k = 0; ; k++) {
    const file = k === 0 ? path : `${path}.${k}`;
    if (!existsSync(file)) break;
    texts.push(readFileSync(file, 'utf8'));
    if (n > 0 && lastLines(texts, n).length >= n) break;
  }
  const shown = lastLines(texts, n);
  if (shown.length > 0) process.stdout.write(shown.join('\n') + '\n');
  if (!values.follow) return 0;
  await follow(path, existsSync(path) ? statSync(path).size : 0);
  return 0;
}

/** Prints what is appended to `path` from `offset` on, reopening it when it is rotated, until SIGINT or SIGTERM. */
async function follow(path: string, offset: number): Promise<void> {
  let fd: number | undefined;
  let ino: number | undefined;
  const open = (): void => {
    try {
      fd = openSync(path, 'r');
      ino = fstatSync(fd).ino;
    } catch {
      fd = undefined;
    }
  };
  open();
  const buf = Buffer.alloc(64 * 1024);
  const drain = (): void => {
    if (fd === undefined) return;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) return;
      process.stdout.write(buf.subarray(0, n));
      offset += n;
    }
  };
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  while (!stop) {
    drain();
    // Rotated (renamed away, a new NAME.log in its place): finish the old file, then start the new one.
    let now: number | undefined;
    try {
      now = statSync(path).ino;
    } catch {
      now = undefined;
    }
    if (now !== undefined && now !== ino) {
      drain();
      if (fd !== undefined) closeSync(fd);
      offset = 0;
      open();
      continue;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (fd !== undefined) closeSync(fd);
}
