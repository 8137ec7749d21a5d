// The variables Lambda sets so that layer contents are found: the same rule
// for a pod (optDir /opt) and for the embedded platform (a per-function
// directory standing in for /opt, which only exists in a cluster).
import type { Runtime } from '../api/function.js';

export const OPT_DIR_ENV = 'HEARTH_OPT_DIR';

/** The function's own value, when it sets one, comes first: it asked for it. */
function after(existing: string | undefined, value: string): string {
  return existing !== undefined && existing !== '' ? `${existing}:${value}` : value;
}

/**
 * Layer paths merged into an environment, as Lambda does: PYTHONPATH gains
 * <opt>/python (and its site-packages), NODE_PATH <opt>/nodejs/node_modules,
 * PATH ends with <opt>/bin and LD_LIBRARY_PATH gains <opt>/lib.
 */
export function optEnv(optDir: string, runtime: Runtime, env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { [OPT_DIR_ENV]: optDir };
  if (runtime.startsWith('python')) {
    out.PYTHONPATH = after(env.PYTHONPATH, `${optDir}/python:${optDir}/python/lib/${runtime}/site-packages`);
  }
  if (runtime.startsWith('nodejs')) {
    const major = runtime.slice('nodejs'.length);
    out.NODE_PATH = after(env.NODE_PATH, `${optDir}/nodejs/node${major}/node_modules:${optDir}/nodejs/node_modules`);
  }
  out.LD_LIBRARY_PATH = after(env.LD_LIBRARY_PATH, `${optDir}/lib`);
  out.PATH = after(env.PATH, `${optDir}/bin`);
  return out;
}
