// End to end on the embedded platform with real runtime processes: a load run
// scales a function from 0 to at least 3 instances and back down to its
// minInstances, as /metrics shows. Real time passes here, so the test polls
// for states (with generous deadlines as a safety net) and never asserts on
// how long anything took.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { py, startPlatform } from '../helpers/platform.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const FN = 'scaled';
const handler = `import time
def handler(event, context):
    time.sleep(0.2)
    return {"ok": True}
`;

async function gauge(platform: Platform, metric: string): Promise<number | undefined> {
  const text = await (await fetch(`${platform.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(`function="${FN}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until(what: string, check: () => Promise<boolean>, deadlineMs = 90_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('autoscaling on the embedded platform', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({
      [FN]: {
        ...py(handler),
        concurrency: 1,
        // The shortest windows the schema allows, so the run takes seconds rather than minutes.
        scaling: { minInstances: 0, maxInstances: 6, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 0 },
      },
    });
  }, 60_000);
  afterAll(async () => platform?.close());

  it('scales from 0 to at least 3 under load and back to minInstances after it', async () => {
    // The ready gauge appears with the autoscaler's first tick over the function.
    await until('a first autoscaler tick', async () => (await gauge(platform, 'hearth_autoscaler_ready_instances')) !== undefined);
    expect(await gauge(platform, 'hearth_autoscaler_ready_instances')).toBe(0);
    expect(await gauge(platform, 'hearth_autoscaler_desired_instances')).toBe(0);

    let loading = true;
    const statuses: number[] = [];
    const worker = async () => {
      while (loading) {
        const r = await fetch(`${platform.url}/2015-03-31/functions/${FN}/invocations`, { method: 'POST', body: '{}' });
        statuses.push(r.status);
        await r.arrayBuffer();
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    let peakDesired = 0;
    let peakReady = 0;
    try {
      await until('3 ready instances', async () => {
        peakDesired = Math.max(peakDesired, (await gauge(platform, 'hearth_autoscaler_desired_instances')) ?? 0);
        peakReady = Math.max(peakReady, (await gauge(platform, 'hearth_autoscaler_ready_instances')) ?? 0);
        return peakReady >= 3 && peakDesired >= 3;
      });
      expect((await gauge(platform, 'hearth_autoscaler_observed_concurrency')) ?? 0).toBeGreaterThan(0);
    } finally {
      loading = false;
      await Promise.all(workers);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);

    await until('scale back to minInstances', async () =>
      (await gauge(platform, 'hearth_autoscaler_desired_instances')) === 0 && (await gauge(platform, 'hearth_autoscaler_ready_instances')) === 0,
    );
    const text = await (await fetch(`${platform.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`hearth_autoscaler_scale_events_total\\{function="${FN}",version="\\$LATEST",direction="up"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`hearth_autoscaler_scale_events_total\\{function="${FN}",version="\\$LATEST",direction="down"\\} [1-9]`));
    expect(platform.backend.instances(FN).filter((i) => i.state === 'ready' || i.state === 'starting')).toHaveLength(0);
  }, 180_000);
});
