import { describe, expect, it } from 'vitest';
import { costRows } from '../../src/cli/cost.js';
import { parseExposition } from '../../src/metrics/exposition.js';
import { billedMilliseconds, cost, gbSeconds } from '../../src/metrics/invocations.js';

describe('cost model C = k·t + p·n', () => {
  it('bills each invocation rounded up to a millisecond', () => {
    expect(billedMilliseconds(0.2)).toBe(1);
    expect(billedMilliseconds(1.0)).toBe(1);
    expect(billedMilliseconds(1.01)).toBe(2);
  });
  it('computes GB-seconds and cost', () => {
    expect(gbSeconds(1000, 1024)).toBe(1);
    expect(gbSeconds(500, 128)).toBeCloseTo(0.0625);
    expect(cost({ gbSeconds: 2, requests: 10, pricePerGbSecond: 3, pricePerRequest: 0.5 })).toBe(11);
  });
  it('reads a gateway\'s metrics into rows per function, counting only requests that ran', () => {
    const text = [
      '# HELP hearth_invocations_total x',
      'hearth_invocations_total{function="a",type="sync",outcome="success"} 3',
      'hearth_invocations_total{function="a",type="async",outcome="unhandled"} 1',
      'hearth_invocations_total{function="a",type="sync",outcome="throttled"} 9',
      'hearth_billed_duration_milliseconds_total{function="a"} 40',
      'hearth_gb_seconds_total{function="a"} 0.005',
    ].join('\n');
    expect(parseExposition(text)).toHaveLength(5);
    const [row] = costRows(text, { pricePerGbSecond: 2, pricePerRequest: 0.1 });
    expect(row).toEqual({ function: 'a', requests: 4, billedMs: 40, gbSeconds: 0.005, cost: 2 * 0.005 + 0.1 * 4 });
  });
});
