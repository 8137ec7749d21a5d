// The agent's drain: once it begins, /readyz fails and new invocations are
// refused with a distinct "not delivered" signal, while those already
// accepted (running and queued) run to their answers. GET /drain (the pod's
// preStop hook) answers only once the agent is empty, and SIGTERM to
// `hearth agent` drains before it exits. A real runtime process (the
// fixture) serves each agent.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { request as httpRequest } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { AgentClient } from '../../src/agent/client.js';
import { NotDeliveredError } from '../../src/agent/delivery.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { FAKE_RUNTIME, json, REPO_ROOT, request, silent } from './helpers.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function fixtureAgent(opts: Partial<AgentOptions> = {}): Promise<{ agent: Agent; url: string; client: AgentClient }> {
  const agent = new Agent({
    functionName: 'drain',
    logger: silent,
    timeoutSeconds: 10,
    launcher: spawnLauncher({ command: process.execPath, args: [FAKE_RUNTIME], env: { PATH: process.env.PATH ?? '' } }),
    ...opts,
  });
  closers.push(() => agent.close());
  await agent.start();
  const { url } = await agent.listenInvoke();
  const client = new AgentClient(url, { connections: 4 });
  closers.push(() => client.close());
  // Past the init, so calls below meet a ready runtime.
  await agent.invoke(request({ action: 'echo' }));
  return { agent, url, client };
}

const sleep = (ms: number) => request({ action: 'sleep', ms }, { timeoutMs: 10_000 });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('agent drain, in process', () => {
  it('refuses new invocations as not delivered while running and queued ones finish', async () => {
    const { agent } = await fixtureAgent({ concurrency: 1 });
    const accepted = [agent.invoke(sleep(300)), agent.invoke(sleep(10)), agent.invoke(sleep(10))];
    expect(agent.load).toBe(3);
    const drained = agent.drain();
    expect(agent.draining).toBe(true);
    const refused = await rejection(agent.invoke(request({ action: 'echo' })));
    expect(refused).toBeInstanceOf(NotDeliveredError);
    expect(refused).toMatchObject({ reason: 'draining' });
    const results = await Promise.all(accepted);
    expect(results.map((r) => r.outcome)).toEqual(['success', 'success', 'success']);
    expect(await drained).toEqual({ handedBack: 0 });
    expect(agent.load).toBe(0);
  });

  it('hands queued invocations back as not delivered when the drain times out, and lets the running one answer', async () => {
    const { agent } = await fixtureAgent({ concurrency: 1 });
    const running = agent.invoke(sleep(800));
    const queued = rejection(agent.invoke(sleep(10)));
    const drained = agent.drain({ timeoutMs: 200 });
    expect(await queued).toBeInstanceOf(NotDeliveredError);
    expect((await running).outcome).toBe('success');
    expect(await drained).toEqual({ handedBack: 1 });
  });

  it('by default lets queued invocations wait one function timeout (the agent\'s) before handing them back', async () => {
    const { agent } = await fixtureAgent({ concurrency: 1, timeoutSeconds: 1 });
    const running = agent.invoke(sleep(1800));
    const queued = rejection(agent.invoke(sleep(10)));
    const began = Date.now();
    const drained = agent.drain();
    expect(await queued).toBeInstanceOf(NotDeliveredError);
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
    expect((await running).outcome).toBe('success');
    expect(await drained).toEqual({ handedBack: 1 });
  });

  it('on close answers running invocations with an exit error but hands queued ones back as not delivered', async () => {
    const { agent } = await fixtureAgent({ concurrency: 1 });
    const running = agent.invoke(sleep(5000));
    const queued = rejection(agent.invoke(sleep(10)));
    await waitFor('the first call running', () => agent.load === 2 && agent.state === 'ready');
    await new Promise((r) => setTimeout(r, 100));
    await agent.close();
    expect(await running).toMatchObject({ outcome: 'unhandled', errorType: 'Runtime.ExitError' });
    expect(await queued).toBeInstanceOf(NotDeliveredError);
    expect(await rejection(agent.invoke(request({})))).toBeInstanceOf(NotDeliveredError);
  });
});

describe('agent drain over HTTP', () => {
  it('answers new calls 503 with the draining header, fails /readyz, and answers GET /drain once empty', async () => {
    const { url, client } = await fixtureAgent({ concurrency: 2 });
    const order: string[] = [];
    const inFlight = [client.invoke(sleep(400), 2), client.invoke(sleep(400), 2), client.invoke(sleep(50), 2)].map((p) =>
      p.then((r) => {
        order.push('call');
        return r;
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const drain = httpRequest(`${url}/drain`).then(async (res) => {
      order.push('drain');
      return { status: res.statusCode, body: await res.body.json() };
    });
    await waitFor('readyz failing', async () => (await httpRequest(`${url}/readyz`).then(async (r) => (await r.body.dump(), r.statusCode))) === 503);
    const readyz = await httpRequest(`${url}/readyz`);
    expect(await readyz.body.json()).toEqual({ status: 'draining' });

    const raw = await httpRequest(`${url}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{}' });
    expect(raw.statusCode).toBe(503);
    expect(raw.headers['x-hearth-instance-draining']).toBe('1');
    expect(raw.headers.connection).toBe('close');
    expect(await raw.body.json()).toMatchObject({ errorType: 'Hearth.InstanceDraining' });
    const refused = await rejection(client.invoke(request({ action: 'echo' })));
    expect(refused).toBeInstanceOf(NotDeliveredError);
    expect(refused).toMatchObject({ reason: 'draining' });

    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.outcome)).toEqual(['success', 'success', 'success']);
    expect(await drain).toEqual({ status: 200, body: { status: 'drained', handedBack: 0 } });
    // The hook's answer came only after every accepted call had its own.
    expect(order).toEqual(['call', 'call', 'call', 'drain']);
  });

  it('answers GET /drain only once callers have been quiet for the quiet period, after the agent is empty', async () => {
    const agent = new Agent({ functionName: 'quiet', logger: silent, launcher: spawnLauncher({ command: process.execPath, args: [FAKE_RUNTIME], env: { PATH: process.env.PATH ?? '' } }) });
    closers.push(() => agent.close());
    await agent.start();
    const { url } = await agent.listenInvoke('127.0.0.1', 0, { drainQuietMs: 400 });
    const drain = httpRequest(`${url}/drain`).then(async (res) => (await res.body.dump(), Date.now()));
    // A gateway that has not yet heard the pod is leaving keeps sending for a while: each call is refused as draining.
    let lastCall = 0;
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const res = await httpRequest(`${url}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{}' });
      await res.body.dump();
      expect(res.statusCode).toBe(503);
      lastCall = Date.now();
    }
    expect(await drain).toBeGreaterThanOrEqual(lastCall + 400 - 50);
  });

  it('after close, a client call is refused at connect: not delivered', async () => {
    const { agent, client } = await fixtureAgent();
    await agent.drain();
    await agent.close();
    const refused = await rejection(client.invoke(request({ action: 'echo' })));
    expect(refused).toBeInstanceOf(NotDeliveredError);
    expect(refused).toMatchObject({ reason: 'refused' });
  });
});

describe('the agent client on a connection cut after the request was sent', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('does not call it not delivered: the request may have been read', async () => {
    server = createServer((socket) => {
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    const addr = server.address();
    const client = new AgentClient(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, { connections: 1 });
    closers.push(() => client.close());
    const err = await rejection(client.invoke(request({ action: 'echo' })));
    expect(err).not.toBeInstanceOf(NotDeliveredError);
  });
});

describe('hearth agent and SIGTERM', () => {
  it('drains before it exits: the call in flight is answered, a new one is refused as draining', { timeout: 60_000 }, async () => {
    const listen = await freePort();
    const runtimeApi = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'agent', '--listen', `127.0.0.1:${listen}`, '--runtime-api', `127.0.0.1:${runtimeApi}`, '--function-name', 'sig', '--timeout', '10', '--', process.execPath, FAKE_RUNTIME],
      { cwd: REPO_ROOT, stdio: 'ignore', env: { PATH: process.env.PATH ?? '' } },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    closers.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const url = `http://127.0.0.1:${listen}`;
    await waitFor('agent ready', async () => {
      try {
        const r = await httpRequest(`${url}/readyz`);
        await r.body.dump();
        return r.statusCode === 200;
      } catch {
        return false;
      }
    }, 30_000, 100);
    const client = new AgentClient(url, { connections: 2 });
    closers.push(() => client.close());
    const inFlight = client.invoke(sleep(1500));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    await waitFor('refusing as draining', async () => {
      const e = await rejection(client.invoke(request({ action: 'echo' }))).catch((x: unknown) => x);
      return e instanceof NotDeliveredError;
    });
    const r = await inFlight;
    expect(r.outcome).toBe('success');
    expect(json(r.payload)).toMatchObject({ slept: 1500 });
    expect(await exited).toBe(0);
  });
});
