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
  // The current file is read through the descriptor --follow goes on with,
  // from where that read ended: a line written between the two is neither
  // skipped nor printed twice, and a rotation meanwhile cannot mislead it.
  const current = openCurrent(path);
  const texts: string[] = current === undefined ? [] : [current.bytes.toString('utf8')];
  for (let k = 1; current !== undefined && !(n > 0 && lastLines(texts, n).length >= n); k++) {
    const file = `${path}.${k}`;
    if (!existsSync(file)) break;
    texts.push(readFileSync(file, 'utf8'));
  }
  const shown = lastLines(texts, n);
  if (shown.length > 0) process.stdout.write(shown.join('\n') + '\n');
  if (!values.follow) {
    if (current !== undefined) closeSync(current.fd);
    return 0;
  }
  await follow(path, current);
  return 0;
}

interface OpenLog {
  fd: number;
  ino: number;
  /** What the file held when read; the follower goes on from its end. */
  bytes: Buffer;
}

/** The log file as it is now, read to its end through a descriptor kept open; undefined when there is none. */
function openCurrent(path: string): OpenLog | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  return { fd, ino: fstatSync(fd).ino, bytes: readFileSync(fd) };
}

/** Prints what is appended to the log after what `from` read, reopening it when it is rotated, until SIGINT or SIGTERM. */
async function follow(path: string, from: OpenLog | undefined): Promise<void> {
  let fd = from?.fd;
  let ino = from?.ino;
  let offset = from?.bytes.length ?? 0;
  const open = (): void => {
    try {
      fd = openSync(path, 'r');
      ino = fstatSync(fd).ino;
    } catch {
      fd = undefined;
    }
  };
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
