import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { execStubCommand, specialisationLine } from './exec-stub.js';

/** Runs the stub as the pool does (its own pool environment), writes `line` (or closes stdin) and collects what happens. */
async function runStub(line: string | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const stub = execStubCommand();
  if (stub === undefined) throw new Error('no python3 here');
  const child = spawn(stub.command, stub.args, { env: { PATH: '/usr/bin:/bin', HEARTH_SPECIALIZE: 'stdin', POOL_ONLY: 'pool' }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin.end(line);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe('the exec stub of native runtimes', () => {
  it('picks the system python3, else whichever python3 runs here, else none', () => {
    expect(execStubCommand('/bin/sh', () => '/elsewhere/python3')?.command).toBe('/bin/sh');
    expect(execStubCommand('/no/such/python3', () => '/elsewhere/python3')?.command).toBe('/elsewhere/python3');
    expect(execStubCommand('/no/such/python3', () => undefined)).toBeUndefined();
    expect(execStubCommand('/bin/sh', () => undefined)?.args.slice(0, 3)).toEqual(['-I', '-S', '-c']);
  });

  it('writes one JSON line: the environment, and what to exec when there is something', () => {
    expect(specialisationLine({ A: '1' })).toBe('{"env":{"A":"1"}}\n');
    expect(specialisationLine({ A: 'x\ny' }, ['/var/runtime/bootstrap'])).toBe('{"env":{"A":"x\\ny"},"argv":["/var/runtime/bootstrap"]}\n');
  });

  it('execs argv with exactly the line\'s environment, nothing of its own', async () => {
    const env = { ONLY: 'value with spaces, "quotes", $x and\nnewline', EMPTY: '', PATH: '/nowhere' };
    const r = await runStub(specialisationLine(env, ['/usr/bin/env', '-0']));
    expect(r.code).toBe(0);
    const seen = Object.fromEntries(r.stdout.split('\0').filter((kv) => kv !== '').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    expect(seen).toEqual(env);
  });

  it('exits quietly when stdin closes without a line (the pool closing)', async () => {
    expect(await runStub(undefined)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('says why and exits 127 when the bootstrap cannot be run', async () => {
    const r = await runStub(specialisationLine({}, ['/var/task/no-such-bootstrap']));
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('hearth: cannot run /var/task/no-such-bootstrap: No such file or directory\n');
  });
});
