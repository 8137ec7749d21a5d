// The agent as a pod runs it: the runtime is a process the agent did not
// start (another container), found through /proc. Its death mid-invocation
// gives Runtime.ExitError, a fresh runtime is served after its init, and an
// invocation that overruns its deadline gets the runtime killed. A runtime that
// dies on its very first invocation, before any periodic /proc scan could have
// seen it, still ends that invocation with Runtime.ExitError, not at its timeout.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { environNamesRuntimeApi, procRuntimePeer } from '../../src/agent/runtime-peer.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT, request, silent, until } from './helpers.js';

const HANDLER = 'import os, time\ndef handler(event, context):\n    if event.get("exit"):\n        os._exit(3)\n    time.sleep(event.get("sleep", 0))\n    return {"ok": True}\n';


function startRuntime(runtimeApi: string, task: string): ChildProcess {
  return spawn('python3', [join(REPO_ROOT, 'runtimes/python/bootstrap.py')], {
    cwd: task,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_LAMBDA_RUNTIME_API: runtimeApi, LAMBDA_TASK_ROOT: task, _HANDLER: 'app.handler' },
    stdio: 'ignore',
  });
}


const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

describe('agent with an external runtime (the pod case)', () => {
  const procs: ChildProcess[] = [];
  let agent: Agent | undefined;
  afterEach(async () => {
    for (const p of procs.splice(0)) if (alive(p)) p.kill('SIGKILL');
    await agent?.close();
  });

  it('matches a process to its agent by the Runtime API it was given', () => {
    expect(environNamesRuntimeApi(Buffer.from('PATH=/bin\0AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001\0'), '127.0.0.1:9001')).toBe(true);
    expect(environNamesRuntimeApi(Buffer.from('AWS_LAMBDA_RUNTIME_API=127.0.0.1:90011\0'), '127.0.0.1:9001')).toBe(false);
  });

  it('answers Runtime.ExitError when the runtime dies mid-invocation, then serves its successor', async () => {
    const port = await freePort();
    const api = `127.0.0.1:${port}`;
    const task = mkdtempSync(join(tmpdir(), 'hearth-ext-'));
    writeFileSync(join(task, 'app.py'), HANDLER);
    agent = new Agent({ functionName: 'ext', port, timeoutSeconds: 10, logger: silent, peer: procRuntimePeer(api, { pollMs: 50 }) });
    await agent.start();
    const first = startRuntime(api, task);
    procs.push(first);
    await until(() => agent?.state === 'ready');
    expect((await agent.invoke(request({}, { timeoutMs: 10_000 }))).outcome).toBe('success');

    const call = agent.invoke(request({ sleep: 5 }, { timeoutMs: 10_000 }));
    await new Promise((r) => setTimeout(r, 300));
    first.kill('SIGKILL');
    const result = await call;
    expect(result.outcome).toBe('unhandled');
    expect(JSON.parse(result.payload.toString())).toMatchObject({ errorType: 'Runtime.ExitError' });

    // What the kubelet does: start the container again.
    procs.push(startRuntime(api, task));
    await until(() => agent?.state === 'ready');
    expect((await agent.invoke(request({}, { timeoutMs: 10_000 }))).outcome).toBe('success');
  });

  // The race: the agent scans /proc every pollMs and reports the death only of processes a scan has seen. Polling
  // every 2 s, no periodic scan can see a runtime that lives ~0.1 s: only the scan the agent makes when the runtime
  // first asks for work (before it hands anything over) can. The function's timeout is 60 s; the call must end with
  // Runtime.ExitError well inside 20 s (a bound so a regression fails here, not a measure of speed).
  it.each([
    ['polling every 2 s', 2_000],
    ['polling at the default pace', undefined],
  ])('answers Runtime.ExitError when the runtime dies on its first invocation (%s)', { timeout: 60_000 }, async (_how, pollMs) => {
    const port = await freePort();
    const api = `127.0.0.1:${port}`;
    const task = mkdtempSync(join(tmpdir(), 'hearth-ext-'));
    writeFileSync(join(task, 'app.py'), HANDLER);
    agent = new Agent({ functionName: 'ext', port, timeoutSeconds: 60, logger: silent, peer: procRuntimePeer(api, pollMs === undefined ? {} : { pollMs }) });
    await agent.start();
    // Queued before the runtime exists, so the runtime's first /next is answered with it at once.
    const call = agent.invoke(request({ exit: true }, { timeoutMs: 60_000 }));
    procs.push(startRuntime(api, task));
    let bound: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        bound = setTimeout(() => reject(new Error('the invocation of a runtime that died on it did not end within 20 s')), 20_000);
      }),
    ]).finally(() => clearTimeout(bound));
    expect(result.outcome).toBe('unhandled');
    expect(JSON.parse(result.payload.toString())).toMatchObject({ errorType: 'Runtime.ExitError' });

    // Its successor (the kubelet's restart) inits and serves.
    procs.push(startRuntime(api, task));
    await until(() => agent?.state === 'ready');
    expect((await agent.invoke(request({}, { timeoutMs: 10_000 }))).outcome).toBe('success');
  });

  it('kills a runtime that overruns its deadline', async () => {
    const port = await freePort();
    const api = `127.0.0.1:${port}`;
    const task = mkdtempSync(join(tmpdir(), 'hearth-ext-'));
    writeFileSync(join(task, 'app.py'), HANDLER);
    agent = new Agent({ functionName: 'ext', port, timeoutSeconds: 1, logger: silent, peer: procRuntimePeer(api, { pollMs: 50 }) });
    await agent.start();
    const rt = startRuntime(api, task);
    procs.push(rt);
    await until(() => agent?.state === 'ready');
    const result = await agent.invoke(request({ sleep: 30 }, { timeoutMs: 1000 }));
    expect(JSON.parse(result.payload.toString())).toMatchObject({ errorType: 'Sandbox.Timedout' });
    await until(() => !alive(rt));
    expect(rt.signalCode).toBe('SIGKILL');
  });
});
