// The warm-pool process of native runtimes (go, provided) in a sandbox. A
// binary has no start-up of its own worth saving, but the sandbox around it
// has: joining a v1 memory cgroup waits for an RCU grace period (10-20 ms),
// and bwrap, setpriv and the shell before them take ~7 ms more. So the pool
// keeps sandboxes ready, each running this stub, which reads the one
// specialisation line (as bootstrap.py and bootstrap.mjs do, see
// runtimes/README.md) once its /var/task (and /var/runtime) are filled, and
// execs the function's bootstrap with exactly that line's environment.
//
// Python because every Hearth machine that runs Python functions has it, it
// needs no build, and os.execve hands over an environment of any values
// without a shell or a command line seeing them. -I ignores PYTHON*
// variables and the user's site-packages, -S skips site (start-up time).
import { existsSync } from 'node:fs';
import type { Command } from './runtime-command.js';
import { whichPython } from './runtime-command.js';

/**
 * The stub. A line {"env": {...}, "argv": [...]}: exec argv[0] with it. No
 * line (stdin closed: the pool is closing): exit quietly. A bootstrap that
 * cannot be run: say why on stderr and exit 127, as a shell would.
 */
export const EXEC_STUB = `import json, os, sys
line = sys.stdin.buffer.readline()
if not line:
    sys.exit(0)
spec = json.loads(line)
argv = spec['argv']
try:
    os.execve(argv[0], argv, spec['env'])
except (OSError, ValueError) as e:
    sys.stderr.write('hearth: cannot run %s: %s\\n' % (argv[0], getattr(e, 'strerror', None) or e))
    sys.exit(127)
`;

/** The stub's command: the system's python3 (nothing to bind beside /usr), else whichever python3 runs here; undefined without one. */
export function execStubCommand(systemPython = '/usr/bin/python3', which: (name: string) => string | undefined = whichPython): Command | undefined {
  const python = existsSync(systemPython) ? systemPython : which('python3');
  return python === undefined ? undefined : { command: python, args: ['-I', '-S', '-c', EXEC_STUB] };
}

/** The specialisation line for a pool process: the runtime's whole environment, and for the exec stub what to run. */
export function specialisationLine(env: Readonly<Record<string, string>>, argv?: readonly string[]): string {
  return JSON.stringify(argv === undefined ? { env } : { env, argv }) + '\n';
}
