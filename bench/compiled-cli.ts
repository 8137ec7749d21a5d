// The `hearth` CLI compiled as the image and `npm run build` compile it, for
// the benchmarks that run Hearth's own processes (the controller, `hearth up`,
// `hearth agent`). Run through tsx instead, the same code idled ~80 MiB
// higher and spent CPU per call in tsx's helpers: figures production never
// pays. Built once per bench run into a directory of the bench's own, inside
// the checkout so node_modules resolve.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const OUT = '.cache/bench-cli';
let built: Promise<string> | undefined;

/** The compiled CLI's entry (relative to the repository root), compiling src on the first call of the run. */
export function compiledCli(): Promise<string> {
  built ??= compile();
  return built;
}

async function compile(): Promise<string> {
  const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', OUT, '--sourceMap', 'false'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  tsc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  tsc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => tsc.once('exit', resolve));
  if (code !== 0) throw new Error(`tsc failed (${String(code)}): ${output.slice(-2000)}`);
  return `${OUT}/cli/main.js`;
}
