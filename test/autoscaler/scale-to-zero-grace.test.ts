// scaleToZeroGracePeriodSeconds on the embedded platform with a real runtime:
// an instance the dispatcher cold-starts for one short call (shorter than
// the autoscaler's one-second tick, so the autoscaler never sees its demand)
// stays warm for the grace period and then goes. Real time passes; the test
// polls for states with bounded waits and asserts no durations but the grace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;
const FN = 'brief';
const GRACE_S = 4;

describe('scale-to-zero grace on the embedded platform', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({
      [FN]: { ...node('export const handler = async () => "ok";'), scaling: { minInstances: 0, scaleToZeroGracePeriodSeconds: GRACE_S, stableWindowSeconds: 6 } },
    });
  }, 60_000);
  afterAll(async () => platform?.close());

  const live = () => platform.backend.instances(FN).filter((i) => i.state === 'ready').length;

  it('keeps a cold-started instance for the grace period, then scales it to zero', async () => {
    expect(live()).toBe(0);
    const r = await fetch(`${platform.url}/2015-03-31/functions/${FN}/invocations`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(200);
    await r.arrayBuffer();
    const calledAt = Date.now();
    // Several autoscaler ticks pass inside the grace: the instance is still there.
    await new Promise((res) => setTimeout(res, (GRACE_S - 1.5) * 1000));
    expect(live()).toBe(1);
    await waitFor('the instance to go after the grace', () => live() === 0 || undefined, 30_000, 100);
    expect(Date.now() - calledAt).toBeGreaterThanOrEqual((GRACE_S - 0.5) * 1000);
  }, 60_000);
});
