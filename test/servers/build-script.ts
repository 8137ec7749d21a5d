// Runs one of the build scripts of the tests' servers (build-jaeger.sh,
// build-versitygw.sh): each builds its server once into ~/.cache/hearth,
// waiting on the build make test-unit started beside the unit suites, and
// prints the binary's path last.
import { execFile } from 'node:child_process';

/** The binary's path, or why there is none (exit 3: cannot be built here; only outside CI: under CI=true a failed build fails). */
export function runBuildScript(script: string): Promise<{ bin: string } | { skip: string }> {
  const name = script.split('/').pop() ?? script;
  return new Promise((resolve, reject) => {
    // A cold build takes minutes; the caller's hook timeout bounds the wait.
    execFile('bash', [script], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ bin: stdout.trim().split('\n').pop() ?? '' });
        return;
      }
      if (err.code === 3 && process.env.CI !== 'true') {
        resolve({ skip: stderr.trim() });
        return;
      }
      reject(new Error(`${name} failed (${String(err.code)}): ${stderr.slice(-4000)}`));
    });
  });
}
