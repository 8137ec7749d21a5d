// 50 parallel invocations of a function with concurrency 1 and at most 5
// instances: all succeed, never more than 5 instances, never two invocations
// at once in one instance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { py, startPlatform } from '../helpers/platform.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const handler = `import os, time
def handler(event, context):
    start = time.time()
    time.sleep(0.1)
    return {"pid": os.getpid(), "start": start, "end": time.time()}
`;

describe('dispatch under parallel load', () => {
  let platform: Platform;
  let maxSeen = 0;
  beforeAll(async () => {
    // No sandbox: instances are told apart by their runtimes' pids, which each sandbox's own PID namespace would number alike.
    platform = await startPlatform({ worker: { ...py(handler), concurrency: 1, scaling: { maxInstances: 5 } } }, { backend: { sandbox: false } });
    platform.backend.onChange((name) => {
      if (name !== 'worker') return;
      const live = platform.backend.instances(name).filter((i) => i.state !== 'stopped').length;
      maxSeen = Math.max(maxSeen, live);
    });
  }, 60_000);
  afterAll(async () => platform?.close());

  it('serves 50 parallel calls within maxInstances, one at a time per instance', async () => {
    const calls = Array.from({ length: 50 }, () =>
      fetch(`${platform.url}/2015-03-31/functions/worker/invocations`, { method: 'POST', body: '{}' }).then(async (r) => ({ status: r.status, fnError: r.headers.get('x-amz-function-error'), body: await r.text() })),
    );
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.status !== 200 || r.fnError)).toEqual([]);
    const runs = results.map((r) => JSON.parse(r.body) as { pid: number; start: number; end: number });
    const byPid = new Map<number, { start: number; end: number }[]>();
    for (const run of runs) byPid.set(run.pid, [...(byPid.get(run.pid) ?? []), run]);
    expect(byPid.size).toBeLessThanOrEqual(5);
    expect(byPid.size).toBeGreaterThan(1);
    for (const list of byPid.values()) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) expect(list[i]!.start).toBeGreaterThanOrEqual(list[i - 1]!.end);
    }
    expect(maxSeen).toBeLessThanOrEqual(5);
  }, 60_000);
});
