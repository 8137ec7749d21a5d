// A call whose instance provably never ran it (the agent was draining, or
// could not be connected to) goes to another instance, within the call's
// one wait budget; a call that may have run is never sent again. Instances
// here are scripted (the decision and its bookkeeping are under test); the
// drain test beside this one uses real agents.
import { errors } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InvokeRequest, InvokeResult } from '../../src/agent/invocation.js';
import { NotDeliveredError } from '../../src/agent/delivery.js';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import type { Backend, Instance, InstanceState } from '../../src/backends/backend.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { DispatchError } from '../../src/dispatch/invoker.js';
import { MAX_REDISPATCHES, redispatchDecision } from '../../src/dispatch/redispatch.js';
import { createInvocationMetrics } from '../../src/metrics/invocations.js';
import { createRegistry } from '../../src/metrics/registry.js';

describe('redispatchDecision', () => {
  const draining = new NotDeliveredError('draining', 'x');
  it.each([
    ['the agent was draining', draining, 0, { redispatch: true, reason: 'draining' }],
    ['the connection was refused', new NotDeliveredError('refused', 'x'), 1, { redispatch: true, reason: 'refused' }],
    ['the last send allowed', draining, MAX_REDISPATCHES - 1, { redispatch: true, reason: 'draining' }],
    ['one send too many', draining, MAX_REDISPATCHES, { redispatch: false, why: 'too-many' }],
    ['a socket closed after the request went out', new errors.SocketError('other side closed'), 0, { redispatch: false, why: 'may-have-run' }],
    ['no answer in time', new errors.HeadersTimeoutError(), 0, { redispatch: false, why: 'may-have-run' }],
    ['a raw connection refusal not classified by the client', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }), 0, { redispatch: false, why: 'may-have-run' }],
    ['anything else', new Error('boom'), 0, { redispatch: false, why: 'may-have-run' }],
  ] as const)('%s → %j', (_, err, sent, expected) => {
    expect(redispatchDecision(err, sent)).toEqual(expected);
  });
});

type Script = (req: InvokeRequest) => Promise<InvokeResult>;

const ok = (id: string): Script => async () => ({ outcome: 'success', payload: Buffer.from(JSON.stringify({ id })), durationMs: 1 });

class FakeInstance implements Instance {
  readonly functionName = 'fn';
  readonly concurrency = 1;
  readyAt: number;
  calls = 0;
  state: InstanceState = 'ready';
  constructor(
    readonly id: string,
    public script: Script,
    readyAt = 0,
  ) {
    this.readyAt = readyAt;
  }
  invoke(req: InvokeRequest): Promise<InvokeResult> {
    this.calls++;
    return this.script(req);
  }
  markDraining(): void {
    this.state = 'draining';
  }
}

class FakeBackend implements Backend {
  readonly kind = 'kubernetes' as const;
  list: Instance[] = [];
  scales: number[] = [];
  onScale: ((desired: number) => void) | undefined;
  #listeners = new Set<(n: string) => void>();
  async upsert(): Promise<void> {}
  async remove(): Promise<void> {}
  async scale(_: string, desired: number): Promise<void> {
    this.scales.push(desired);
    this.onScale?.(desired);
  }
  instances(): readonly Instance[] {
    return this.list;
  }
  onChange(l: (n: string) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  changed(): void {
    for (const l of this.#listeners) l('fn');
  }
  async close(): Promise<void> {}
}

function setup(maxWaitMs = 2000) {
  const catalog = new MemoryCatalog();
  catalog.set(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'fn' }, spec: { runtime: 'nodejs20', handler: 'index.handler', code: { image: 'x' }, scaling: { maxInstances: 5 } } }));
  const backend = new FakeBackend();
  const registry = createRegistry();
  const metrics = createInvocationMetrics(registry);
  const dispatcher = new Dispatcher({ catalog, backend, metrics, maxWaitMs });
  const redispatched = async (reason: string) => (await metrics.redispatches.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { backend, dispatcher, redispatched };
}

const call = (d: Dispatcher, requestId = 'r1') => d.invoke({ functionName: 'fn', requestId, payload: Buffer.from('{}'), type: 'sync' });
const refuse = (reason: 'draining' | 'refused'): Script => async () => {
  throw new NotDeliveredError(reason, `not delivered (${reason})`);
};

afterEach(() => {
  vi.useRealTimers();
});

describe('Dispatcher: sending a call again', () => {
  it('sends a call the chosen instance refused as draining to another, and stops choosing the refuser', async () => {
    const { backend, dispatcher, redispatched } = setup();
    const old = new FakeInstance('old', refuse('draining'), 1);
    const other = new FakeInstance('other', ok('other'), 2);
    backend.list = [old, other];
    const r = await call(dispatcher);
    expect(JSON.parse(r.payload.toString())).toEqual({ id: 'other' });
    expect(old.state).toBe('draining');
    expect(await redispatched('draining')).toBe(1);
    // The next call goes straight to the other instance.
    await call(dispatcher, 'r2');
    expect(old.calls).toBe(1);
    expect(other.calls).toBe(2);
  });

  it('never sends again a call that may have run', async () => {
    const { backend, dispatcher, redispatched } = setup();
    const cut = new FakeInstance('cut', async () => {
      throw new errors.SocketError('other side closed');
    }, 1);
    const other = new FakeInstance('other', ok('other'), 2);
    backend.list = [cut, other];
    const err = await call(dispatcher).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unavailable' });
    expect((err as DispatchError).notDelivered).toBeUndefined();
    expect(other.calls).toBe(0);
    expect(cut.state).toBe('ready');
    expect(await redispatched('draining')).toBe(0);
  });

  it('waits for a new instance when every one refused, as any caller waits', async () => {
    const { backend, dispatcher } = setup();
    const only = new FakeInstance('only', refuse('refused'));
    backend.list = [only];
    backend.onScale = () => {
      // The backend brings a fresh instance a moment later.
      setTimeout(() => {
        if (backend.list.length === 1) backend.list.push(new FakeInstance('fresh', ok('fresh'), 5));
        backend.changed();
      }, 20);
    };
    const r = await call(dispatcher);
    expect(JSON.parse(r.payload.toString())).toEqual({ id: 'fresh' });
    expect(backend.scales).toContain(1);
  });

  it('gives up after a bounded number of sends, with a 502-kind error', async () => {
    const { backend, dispatcher, redispatched } = setup();
    // An instance without markDraining: it stays ready, and the same refusal keeps coming.
    let calls = 0;
    const stubborn: Instance = {
      id: 'x',
      functionName: 'fn',
      concurrency: 1,
      state: 'ready',
      readyAt: 0,
      invoke: (req) => {
        calls++;
        return refuse('draining')(req);
      },
    };
    backend.list = [stubborn];
    const err = await call(dispatcher).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    // The call ran nowhere, and the error says so.
    expect(err).toMatchObject({ kind: 'unavailable', notDelivered: 'draining' });
    expect(calls).toBe(MAX_REDISPATCHES + 1);
    expect(await redispatched('draining')).toBe(MAX_REDISPATCHES);
  });

  it('keeps the call\'s wait budget: time spent before the refusal is not given back', async () => {
    vi.useFakeTimers();
    const { backend, dispatcher } = setup(1000);
    const slow = new FakeInstance('slow', () => new Promise((_, reject) => setTimeout(() => reject(new NotDeliveredError('connect-timeout', 'x')), 700)));
    backend.list = [slow];
    const settled = vi.fn();
    const p = call(dispatcher).then(
      () => settled('ok'),
      (e: unknown) => settled(e),
    );
    await vi.advanceTimersByTimeAsync(700);
    // Refused after 700 ms: 300 ms of the budget are left, not a fresh 1000.
    await vi.advanceTimersByTimeAsync(290);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(20);
    await p;
    expect(settled).toHaveBeenCalledWith(expect.objectContaining({ kind: 'throttled' }));
  });

  it('counts the call dispatched once however often it is sent', async () => {
    const { backend, dispatcher } = setup();
    backend.list = [new FakeInstance('a', refuse('draining'), 1), new FakeInstance('b', refuse('refused'), 2), new FakeInstance('c', ok('c'), 3)];
    const onDispatch = vi.fn();
    const r = await dispatcher.invoke({ functionName: 'fn', requestId: 'r', payload: Buffer.from('{}'), type: 'async', onDispatch });
    expect(JSON.parse(r.payload.toString())).toEqual({ id: 'c' });
    expect(onDispatch).toHaveBeenCalledTimes(1);
  });
});
