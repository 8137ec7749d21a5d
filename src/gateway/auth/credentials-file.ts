// Authentication from a credentials file (`--credentials FILE`), followed as
// it changes: a Kubernetes Secret mounted as a volume is replaced by a
// symlink swap, which stat polling sees where inotify on the path may not.
// A file that stops being valid leaves the last good callers in force.
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import type { AuthOptions } from '../plugins/auth.js';
import { CallerTable } from './callers.js';
import { CredentialsError, parseCredentials } from './credentials.js';

export interface CredentialsFileAuth {
  /** Pass to buildGateway as `auth` (add recordFunction where records are served). */
  options: AuthOptions;
  /** Reads the file again now; false (and the old callers kept) when it is not valid. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface CredentialsFileOptions {
  logger?: Logger;
  /** How often the file's stat is polled (default 1000 ms). */
  pollIntervalMs?: number;
  openRoutes?: readonly string[];
}

export async function readCallerTable(path: string): Promise<CallerTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CredentialsError(`cannot read credentials file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return new CallerTable(parseCredentials(text));
}

/** Loads the file (throwing if it is missing or invalid) and follows its changes. */
export async function authFromCredentialsFile(path: string, opts: CredentialsFileOptions = {}): Promise<CredentialsFileAuth> {
  let table = await readCallerTable(path);
  opts.logger?.info({ credentials: path, callers: table.size }, 'authentication on');
  let reloading: Promise<boolean> | undefined;

  const reload = (): Promise<boolean> => {
    reloading ??= readCallerTable(path).then(
      (t) => {
        table = t;
        opts.logger?.info({ credentials: path, callers: t.size }, 'credentials reloaded');
        return true;
      },
      (err: unknown) => {
        opts.logger?.error({ credentials: path, problem: (err as Error).message }, 'credentials file not reloaded; the previous callers stay in force');
        return false;
      },
    ).finally(() => {
      reloading = undefined;
    });
    return reloading;
  };
  const onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) void reload();
  };
  watchFile(path, { persistent: false, interval: opts.pollIntervalMs ?? 1000 }, onChange);

  return {
    options: { callers: () => table, ...(opts.openRoutes ? { openRoutes: opts.openRoutes } : {}) },
    reload,
    close: () => unwatchFile(path, onChange),
  };
}
