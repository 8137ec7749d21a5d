// The dispatcher runs each call on the serving unit its qualifier resolves
// to (NAME for $LATEST, NAME:N for version N), an alias's weights decided by a
// draw per call. Instances are scripted per unit key (what is under test is
// which unit a call reaches and the bookkeeping per unit); the local-backend
// test beside test/backends runs real runtimes of two versions side by side.
import { afterEach, describe, expect, it } from 'vitest';
import type { InvokeRequest, InvokeResult } from '../../src/agent/invocation.js';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { RESERVED_CONCURRENCY_REASON } from '../../src/autoscaler/core.js';
import type { Backend, Instance, InstanceState } from '../../src/backends/backend.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { DispatchError, type Invocation } from '../../src/dispatch/invoker.js';
import { createInvocationMetrics, type InvocationMetrics } from '../../src/metrics/invocations.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { trackInstances } from '../../src/platform/instance-gauge.js';
import { UnitCatalog } from '../../src/versions/unit-catalog.js';
import { functionOf, versionOf } from '../helpers/hand-versions.js';

/** An instance of one unit that answers with its unit's key and the ARN it was invoked as; `hold` keeps calls until released. */
class UnitInstance implements Instance {
  readonly concurrency = 10;
  state: InstanceState = 'ready';
  readyAt = Date.now();
  initError?: InvokeResult;
  readonly held: Array<() => void> = [];
  hold = false;
  constructor(
    readonly id: string,
    readonly functionName: string,
  ) {}
  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    if (this.hold) await new Promise<void>((r) => this.held.push(r));
    return { outcome: 'success', payload: Buffer.from(JSON.stringify({ unit: this.functionName, arn: req.invokedFunctionArn })), durationMs: 1 };
  }
}

/** Instances per unit key, started (ready at once) when scaled; a key in `failing` starts instances whose init failed. */
class UnitBackend implements Backend {
  readonly kind = 'kubernetes' as const;
  readonly byKey = new Map<string, UnitInstance[]>();
  readonly scales: Array<[string, number]> = [];
  readonly upserts: string[] = [];
  readonly failing = new Set<string>();
  hold = false;
  #seq = 0;
  readonly #listeners = new Set<(key: string) => void>();
  async upsert(fn: { metadata: { name: string } }): Promise<void> {
    this.upserts.push(fn.metadata.name);
  }
  async remove(): Promise<void> {}
  async scale(key: string, desired: number): Promise<void> {
    this.scales.push([key, desired]);
    // As the local backend does: a failed instance stays visible until the next scale replaces it.
    const list = (this.byKey.get(key) ?? []).filter((i) => i.state !== 'failed');
    while (list.length < desired) {
      const inst = new UnitInstance(`${key}-${++this.#seq}`, key);
      inst.hold = this.hold;
      if (this.failing.has(key)) {
        inst.state = 'failed';
        inst.initError = { outcome: 'unhandled', errorType: 'Runtime.ExitError', payload: Buffer.from('{"errorType":"Runtime.ExitError"}'), durationMs: 0, initDurationMs: 5 };
      }
      list.push(inst);
    }
    this.byKey.set(key, list);
    // As a backend does: the change is told after the call that caused it.
    queueMicrotask(() => this.changed(key));
  }
  instances(key: string): readonly Instance[] {
    return this.byKey.get(key) ?? [];
  }
  onChange(l: (key: string) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  changed(key: string): void {
    for (const l of this.#listeners) l(key);
  }
  releaseAll(): void {
    for (const list of this.byKey.values()) for (const i of list) for (const r of i.held.splice(0)) r();
  }
  async close(): Promise<void> {}
}

const dispatchers: Dispatcher[] = [];
afterEach(() => {
  for (const d of dispatchers.splice(0)) d.close();
});

/** f with versions 1 and 2 published, aliases live (1, 10 % to 2), dev ($LATEST) and gone (to a deleted version 7). */
function setup(opts: { reservedConcurrency?: number; draws?: number[] } = {}) {
  const catalog = new MemoryCatalog();
  catalog.set(
    functionOf('f', { scaling: { maxInstances: 5 }, ...(opts.reservedConcurrency !== undefined ? { reservedConcurrency: opts.reservedConcurrency } : {}) }, [
      { name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 } },
      { name: 'dev', version: '$LATEST' },
      { name: 'gone', version: '7' },
    ]),
  );
  catalog.setVersions('f', [versionOf('f', '1'), versionOf('f', '2')]);
  const units = new UnitCatalog(catalog);
  const backend = new UnitBackend();
  const metrics = createInvocationMetrics(createRegistry());
  const draws = [...(opts.draws ?? [])];
  const dispatcher = new Dispatcher({ catalog, units, backend, metrics, maxWaitMs: 2000, draw: () => draws.shift() ?? 0.5 });
  dispatchers.push(dispatcher);
  return { catalog, units, backend, metrics, dispatcher };
}

let seq = 0;
const call = (d: Dispatcher, qualifier?: string, fields: Partial<Invocation> = {}) =>
  d.invoke({ functionName: 'f', requestId: `r${++seq}`, payload: Buffer.from('{}'), type: 'sync', ...(qualifier !== undefined ? { qualifier } : {}), ...fields });
const answer = (r: InvokeResult) => JSON.parse(r.payload.toString()) as { unit: string; arn: string };
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:f';

async function counted(metrics: InvocationMetrics, labels: Partial<Record<'function' | 'version' | 'type' | 'outcome', string>>): Promise<number> {
  const values = (await metrics.invocations.get()).values.filter((v) => (Object.keys(labels) as Array<keyof typeof labels>).every((k) => v.labels[k] === labels[k]));
  return values.reduce((n, v) => n + v.value, 0);
}

describe('Dispatcher: versions and aliases', () => {
  it.each([
    { qualifier: undefined, draw: 0.5, unit: 'f', executed: '$LATEST', arn: ARN },
    { qualifier: '$LATEST', draw: 0.5, unit: 'f', executed: '$LATEST', arn: ARN },
    { qualifier: '1', draw: 0.5, unit: 'f:1', executed: '1', arn: `${ARN}:1` },
    { qualifier: '2', draw: 0.5, unit: 'f:2', executed: '2', arn: `${ARN}:2` },
    { qualifier: 'live', draw: 0.5, unit: 'f:1', executed: '1', arn: `${ARN}:live` },
    { qualifier: 'live', draw: 0.05, unit: 'f:2', executed: '2', arn: `${ARN}:live` },
    { qualifier: 'dev', draw: 0.5, unit: 'f', executed: '$LATEST', arn: `${ARN}:dev` },
  ])('$qualifier (draw $draw) runs on $unit, executed version $executed, invoked as $arn', async ({ qualifier, draw, unit, executed, arn }) => {
    const { backend, dispatcher } = setup({ draws: [draw] });
    const r = await call(dispatcher, qualifier);
    expect(answer(r)).toEqual({ unit, arn });
    expect(r.executedVersion).toBe(executed);
    // Only the unit that ran was started, from zero.
    expect(backend.scales).toEqual([[unit, 1]]);
  });

  it('gives each version its own instances, each started from zero, and its own demand', async () => {
    const { backend, dispatcher } = setup();
    backend.hold = true;
    const calls = [call(dispatcher, '1'), call(dispatcher, '2'), call(dispatcher, '2'), call(dispatcher)];
    await until(() => backend.byKey.size === 3 && [...backend.byKey.values()].every((l) => l.some((i) => i.held.length > 0)));
    expect(dispatcher.demand('f:1')).toBe(1);
    expect(dispatcher.demand('f:2')).toBe(2);
    expect(dispatcher.demand('f')).toBe(1);
    expect(dispatcher.demand('f:3')).toBe(0);
    expect([...backend.byKey.keys()].sort()).toEqual(['f', 'f:1', 'f:2']);
    for (const [key, list] of backend.byKey) expect(list.every((i) => i.functionName === key)).toBe(true);
    // Every unit's first scale asked for its first instance.
    for (const key of ['f', 'f:1', 'f:2']) expect(backend.scales.find(([k]) => k === key)).toEqual([key, 1]);
    backend.releaseAll();
    const results = await Promise.all(calls);
    expect(results.map((r) => answer(r).unit)).toEqual(['f:1', 'f:2', 'f:2', 'f']);
    expect(dispatcher.demand('f:2')).toBe(0);
  });

  it('splits an alias\'s calls per call by the draw: over every draw of a grid, exactly the weight\'s share goes to the additional version', async () => {
    const grid = Array.from({ length: 200 }, (_, k) => k / 200);
    const { dispatcher } = setup({ draws: grid });
    const ran: string[] = [];
    // One at a time, on the same caller: per call, not per connection.
    for (let k = 0; k < grid.length; k++) ran.push((await call(dispatcher, 'live')).executedVersion ?? '?');
    expect(ran.filter((v) => v === '2')).toHaveLength(20);
    expect(ran.filter((v) => v === '1')).toHaveLength(180);
    grid.forEach((d, k) => expect(ran[k]).toBe(d < 0.1 ? '2' : '1'));
  });

  it.each([
    { case: 'an unknown alias', qualifier: 'nope' },
    { case: 'a version never published', qualifier: '3' },
    { case: 'an alias to a version that is gone', qualifier: 'gone' },
  ])('answers $case with not-found naming the qualified ARN, starting nothing', async ({ qualifier }) => {
    const { backend, dispatcher, metrics } = setup();
    const err = await call(dispatcher, qualifier).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).kind).toBe('not-found');
    expect((err as DispatchError).message).toBe(`Function not found: ${ARN}:${qualifier}`);
    expect(backend.scales).toEqual([]);
    expect(await counted(metrics, { function: 'f', version: qualifier, outcome: 'not_found' })).toBe(1);
  });

  it('answers an unknown function not-found as before, qualified when the caller qualified', async () => {
    const { dispatcher } = setup();
    await expect(dispatcher.invoke({ functionName: 'g', requestId: 'x', payload: Buffer.from('{}'), type: 'sync' })).rejects.toThrow('Function not found: arn:aws:lambda:us-east-1:000000000000:function:g');
    await expect(dispatcher.invoke({ functionName: 'g', qualifier: '1', requestId: 'y', payload: Buffer.from('{}'), type: 'sync' })).rejects.toThrow('Function not found: arn:aws:lambda:us-east-1:000000000000:function:g:1');
  });

  it('counts reserved concurrency for the function across its versions', async () => {
    const { backend, dispatcher, metrics } = setup({ reservedConcurrency: 2 });
    backend.hold = true;
    const one = call(dispatcher, '1');
    const two = call(dispatcher, '2');
    await until(() => dispatcher.demand('f:1') === 1 && dispatcher.demand('f:2') === 1);
    for (const qualifier of [undefined, '1', 'live']) {
      const err = await call(dispatcher, qualifier).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DispatchError);
      expect(err).toMatchObject({ kind: 'throttled', reason: RESERVED_CONCURRENCY_REASON });
    }
    expect(await counted(metrics, { function: 'f', version: '$LATEST', outcome: 'throttled' })).toBe(1);
    expect(await counted(metrics, { function: 'f', version: '1', outcome: 'throttled' })).toBe(2);
    backend.releaseAll();
    await Promise.all([one, two]);
    backend.hold = false;
    expect((await call(dispatcher)).executedVersion).toBe('$LATEST');
  });

  it('tells the callers of a version whose start failed its init error, with the version that failed', async () => {
    const { backend, dispatcher, metrics } = setup();
    backend.failing.add('f:2');
    const [a, b] = await Promise.all([call(dispatcher, '2'), call(dispatcher, '2')]);
    for (const r of [a, b]) {
      expect(r.outcome).toBe('unhandled');
      expect(r.errorType).toBe('Runtime.ExitError');
      expect(r.executedVersion).toBe('2');
    }
    expect(await counted(metrics, { function: 'f', version: '2', outcome: 'unhandled' })).toBe(2);
    // $LATEST is unaffected.
    expect((await call(dispatcher)).outcome).toBe('success');
  });

  it('labels every invocation metric with the function and the version, and the instance gauge per unit', async () => {
    const { backend, dispatcher, metrics, units } = setup();
    const stop = trackInstances(backend, units, metrics);
    await call(dispatcher, '1');
    await call(dispatcher, '1');
    await call(dispatcher);
    await new Promise((r) => setImmediate(r));
    stop();
    expect(await counted(metrics, { function: 'f', version: '1', outcome: 'success' })).toBe(2);
    expect(await counted(metrics, { function: 'f', version: '$LATEST', outcome: 'success' })).toBe(1);
    const billed = (await metrics.billedSeconds.get()).values.map((v) => v.labels);
    expect(billed).toEqual(expect.arrayContaining([{ function: 'f', version: '1' }, { function: 'f', version: '$LATEST' }]));
    const ready = (await metrics.instances.get()).values.filter((v) => v.labels.state === 'ready').map((v) => [v.labels.function, v.labels.version, v.value]);
    expect(ready).toEqual(expect.arrayContaining([['f', '1', 1], ['f', '$LATEST', 1]]));
  });
});

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
