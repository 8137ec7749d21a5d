// Readiness learned from the agent: the gateway long-polls /readyz?wait and
// takes the pod as ready on the agent's 200, against real HTTP servers on
// loopback that behave as agents do (one that holds the poll, one that
// ignores `wait`, none at all).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { answerSaysIdle, answerSaysReady, nextPollDelay, POLL_MAX_DELAY_MS, POLL_MIN_DELAY_MS, ReadinessPolls } from '../../../src/backends/kubernetes/pod-readiness.js';

describe('nextPollDelay', () => {
  it.each([
    { name: 'the agent held the poll for its wait: again at once', held: true, elapsedMs: 10_000, previousDelayMs: 0, want: 0 },
    { name: 'held for half the wait: again at once', held: true, elapsedMs: 5000, previousDelayMs: 400, want: 0 },
    { name: 'a quick 503 (wait ignored): the least delay', held: true, elapsedMs: 3, previousDelayMs: 0, want: POLL_MIN_DELAY_MS },
    { name: 'quick again: doubled', held: true, elapsedMs: 3, previousDelayMs: 200, want: 400 },
    { name: 'quick again: at most the cap', held: true, elapsedMs: 3, previousDelayMs: 800, want: POLL_MAX_DELAY_MS },
    { name: 'no answer (refused, timed out): backs off too', held: false, elapsedMs: 10_000, previousDelayMs: 100, want: 200 },
  ])('$name', ({ held, elapsedMs, previousDelayMs, want }) => {
    expect(nextPollDelay({ held, elapsedMs, waitMs: 10_000, previousDelayMs })).toBe(want);
  });
});

describe('answerSaysReady', () => {
  it.each([
    { name: "a function's agent, ready", status: 200, body: '{"status":"ready"}', ready: true },
    { name: 'a specialised pool pod, ready', status: 200, body: '{"status":"ready","unit":"orders"}', ready: true },
    { name: "an idle pool pod's 200: ready for a specialisation, not a call", status: 200, body: '{"status":"idle","pool":"idle pool pod"}', ready: false },
    { name: 'a 200 without a JSON body', status: 200, body: 'ok', ready: true },
    { name: 'not ready', status: 503, body: '{"status":"starting"}', ready: false },
    { name: 'specialising', status: 503, body: '{"status":"specializing"}', ready: false },
  ])('$name', ({ status, body, ready }) => {
    expect(answerSaysReady(status, body)).toBe(ready);
    expect(answerSaysIdle(status, body)).toBe(status === 200 && body.includes('"idle"'));
  });
});

describe('ReadinessPolls against loopback agents', () => {
  const servers: Server[] = [];
  const dispatcher = new Agent({ connect: { timeout: 1000 } });
  let polls: ReadinessPolls | undefined;

  afterEach(async () => {
    await polls?.close();
    polls = undefined;
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  /** An agent: `ready()` tells whether it is; `holds` whether it keeps a poll open until ready or its wait ends. */
  async function agent(o: { ready: () => boolean; holds: boolean }): Promise<{ port: number; requests: string[]; becameReady: () => void }> {
    const requests: string[] = [];
    const waiting = new Set<() => void>();
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://x');
      const answer = (ready = o.ready()): void => {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end('{}');
      };
      const wait = Number(url.searchParams.get('wait') ?? 0);
      const now = o.ready();
      if (now || !o.holds || wait === 0) return answer(now);
      const t = setTimeout(() => {
        waiting.delete(done);
        answer();
      }, wait);
      const done = (): void => {
        clearTimeout(t);
        answer();
      };
      waiting.add(done);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      port: (server.address() as AddressInfo).port,
      requests,
      becameReady: () => {
        for (const d of waiting) d();
        waiting.clear();
      },
    };
  }

  function readyOnce(): { promise: Promise<[string, string]>; onReady: (pod: string, address: string) => void; calls: number } {
    let resolve!: (v: [string, string]) => void;
    const promise = new Promise<[string, string]>((r) => (resolve = r));
    const out = {
      promise,
      calls: 0,
      onReady: (pod: string, address: string) => {
        out.calls++;
        resolve([pod, address]);
      },
    };
    return out;
  }

  it('an agent that holds the poll: ready on its 200, in one long poll', async () => {
    let ready = false;
    const a = await agent({ ready: () => ready, holds: true });
    const r = readyOnce();
    polls = new ReadinessPolls({ port: a.port, dispatcher, onReady: r.onReady, waitMs: 10_000 });
    polls.start('pod-1', '127.0.0.1');
    await new Promise((res) => setTimeout(res, 100));
    expect(a.requests).toEqual(['/readyz?wait=10000']);
    ready = true;
    a.becameReady();
    expect(await r.promise).toEqual(['pod-1', '127.0.0.1']);
    expect(a.requests.length).toBe(1);
    expect(polls.polling('pod-1')).toBe(false);
  });

  it('an agent that ignores wait: asked again after short delays, ready on its 200', async () => {
    let n = 0;
    const a = await agent({ ready: () => ++n >= 4, holds: false });
    const r = readyOnce();
    polls = new ReadinessPolls({ port: a.port, dispatcher, onReady: r.onReady, waitMs: 10_000 });
    polls.start('pod-2', '127.0.0.1');
    expect(await r.promise).toEqual(['pod-2', '127.0.0.1']);
    expect(a.requests.length).toBe(4);
    expect(r.calls).toBe(1);
  });

  it('one poll per pod: starting it again does not send a second', async () => {
    const a = await agent({ ready: () => false, holds: true });
    polls = new ReadinessPolls({ port: a.port, dispatcher, onReady: () => undefined, waitMs: 10_000 });
    polls.start('pod-3', '127.0.0.1');
    polls.start('pod-3', '127.0.0.1');
    await new Promise((res) => setTimeout(res, 150));
    expect(a.requests.length).toBe(1);
  });

  it('stop() ends a poll at once, and nothing is reported after', async () => {
    const a = await agent({ ready: () => false, holds: true });
    let reported = 0;
    polls = new ReadinessPolls({ port: a.port, dispatcher, onReady: () => reported++, waitMs: 10_000 });
    polls.start('pod-4', '127.0.0.1');
    await new Promise((res) => setTimeout(res, 50));
    polls.stop('pod-4');
    expect(polls.polling('pod-4')).toBe(false);
    a.becameReady();
    await new Promise((res) => setTimeout(res, 50));
    expect(reported).toBe(0);
  });

  it('no agent on the port: retried with backoff until given up, then stops by itself', async () => {
    // A port nothing listens on: a server's, closed.
    const a = await agent({ ready: () => false, holds: false });
    const server = servers.pop() as Server;
    await new Promise((r) => server.close(r));
    polls = new ReadinessPolls({ port: a.port, dispatcher, onReady: () => undefined, waitMs: 10_000, giveUpMs: 400 });
    polls.start('pod-5', '127.0.0.1');
    expect(polls.polling('pod-5')).toBe(true);
    const began = Date.now();
    while (polls.polling('pod-5') && Date.now() - began < 5000) await new Promise((res) => setTimeout(res, 20));
    expect(polls.polling('pod-5')).toBe(false);
  });

  it('close() ends every poll and waits for them', async () => {
    const a = await agent({ ready: () => false, holds: true });
    polls = new ReadinessPolls({ port: a.port, dispatcher, onReady: () => undefined, waitMs: 10_000 });
    polls.start('x', '127.0.0.1');
    polls.start('y', '127.0.0.1');
    await polls.close();
    expect(polls.polling('x') || polls.polling('y')).toBe(false);
    polls.start('z', '127.0.0.1');
    expect(polls.polling('z')).toBe(false);
  });
});
