// Where the embedded platform keeps what it builds and writes on this machine
// (task directories, unpacked packages, function logs): one place, so
// `hearth up` and `hearth logs` agree.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultLocalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hearth', 'local');
}

/** Where each function's NAME.log, NAME.log.1 … live. */
export function functionLogDir(cacheDir: string = defaultLocalCacheDir()): string {
  return join(cacheDir, 'logs');
}
