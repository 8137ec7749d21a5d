// GET /readyz?wait=MS on a function pod's agent (every mode has it): the
// gateway long-polls it to learn an instance is ready from the agent itself.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { READY_WAIT_MAX_MS, readyWaitMs } from '../../src/agent/invoke-server.js';
import { waitFor } from '../helpers/wait.js';
import { RawRuntime, silent } from './helpers.js';

describe('GET /readyz?wait=MS', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  async function externalAgent(): Promise<{ agent: Agent; url: string; runtime: RawRuntime }> {
    // No launcher: the runtime is ours to play by hand, as a pod's runtime container would.
    const agent = new Agent({ functionName: 'wait', logger: silent });
    await agent.start();
    const { url } = await agent.listenInvoke();
    closers.push(() => agent.close());
    return { agent, url, runtime: new RawRuntime(agent.runtimeApi) };
  }

  it('answers 200 as soon as the runtime asks for its first event', async () => {
    const { agent, url, runtime } = await externalAgent();
    const base = agent.listenerCount;
    const waiting = fetch(`${url}/readyz?wait=20000`);
    await waitFor('the wait to register', () => agent.listenerCount === base + 1, 5000);
    // The runtime's first /next ends its init; it stays parked there.
    const ac = new AbortController();
    void fetch(runtime.url('invocation/next'), { signal: ac.signal }).catch(() => undefined);
    const res = await waiting;
    ac.abort();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
    expect(agent.listenerCount).toBe(base);
  });

  it('answers 503 after the wait when the agent is not ready, and at once without a wait', async () => {
    const { agent, url } = await externalAgent();
    const base = agent.listenerCount;
    const now = await fetch(`${url}/readyz`);
    expect(now.status).toBe(503);
    const t0 = Date.now();
    const later = await fetch(`${url}/readyz?wait=250`);
    expect(later.status).toBe(503);
    expect(await later.json()).toEqual({ status: 'starting' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    expect(agent.listenerCount).toBe(base);
  });

  it('reads the wait as milliseconds, capped, ignoring anything else', () => {
    const table: [string, number][] = [
      ['/readyz', 0],
      ['/readyz?wait=150', 150],
      ['/readyz?x=1&wait=2000', 2000],
      ['/readyz?wait=30000', 30_000],
      ['/readyz?wait=999999', READY_WAIT_MAX_MS],
      ['/readyz?wait=-5', 0],
      ['/readyz?wait=1.5', 0],
      ['/readyz?wait=abc', 0],
      ['/readyz?wait=', 0],
      ['/readyz?wait=1e9', 0],
    ];
    for (const [url, ms] of table) expect(readyWaitMs(url), url).toBe(ms);
    expect(READY_WAIT_MAX_MS).toBe(30_000);
  });
});
