// The "direct" baseline of the agent bench: the same handler called in a
// loop inside its own runtime's process, with the JSON decode and encode a
// runtime does, but no Runtime API, no HTTP and no agent. The difference to
// the agent's round trip is what the agent and the Runtime API hop cost.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const PYTHON = `
import json, sys, time
sys.path.insert(0, sys.argv[1])
mod_name, fn_name = sys.argv[2].rsplit('.', 1)
handler = getattr(__import__(mod_name), fn_name)
class Context:
    aws_request_id = 'bench'
    function_name = 'bench'
warm, n = int(sys.argv[3]), int(sys.argv[4])
ctx = Context()
for _ in range(warm):
    json.dumps(handler(json.loads(b'{}'), ctx))
out = []
for _ in range(n):
    t = time.perf_counter_ns()
    json.dumps(handler(json.loads(b'{}'), ctx))
    out.append((time.perf_counter_ns() - t) / 1e6)
print(json.dumps(out))
`;

const NODE = `
import { pathToFileURL } from 'node:url';
const [root, handlerName, warmS, nS] = process.argv.slice(1);
const [file, fnName] = handlerName.split('.');
const mod = await import(pathToFileURL(root + '/' + file + '.mjs').href);
const handler = mod[fnName];
const ctx = { awsRequestId: 'bench', functionName: 'bench' };
for (let i = 0; i < Number(warmS); i++) JSON.stringify(await handler(JSON.parse('{}'), ctx));
const out = [];
for (let i = 0; i < Number(nS); i++) {
  const t = process.hrtime.bigint();
  JSON.stringify(await handler(JSON.parse('{}'), ctx));
  out.push(Number(process.hrtime.bigint() - t) / 1e6);
}
console.log(JSON.stringify(out));
`;

/** Per-call latencies in ms of `n` direct calls after `warm` warm-ups. */
export function directLoop(family: 'python' | 'nodejs', interpreter: string, taskRoot: string, handler: string, warm: number, n: number): number[] {
  const args = family === 'python' ? ['-c', PYTHON, taskRoot, handler, String(warm), String(n)] : ['--input-type=module', '-e', NODE, taskRoot, handler, String(warm), String(n)];
  const r = spawnSync(interpreter, args, { encoding: 'utf8', timeout: 60_000, cwd: join(taskRoot) });
  if (r.status !== 0) throw new Error(`direct ${family} loop failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}
