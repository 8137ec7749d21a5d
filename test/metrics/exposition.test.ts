import { describe, expect, it } from 'vitest';
import { familiesWithoutSamples } from '../../src/metrics/exposition.js';

const family = (name: string, type: string, ...samples: string[]): string => [`# HELP ${name} x`, `# TYPE ${name} ${type}`, ...samples].join('\n');

describe('familiesWithoutSamples', () => {
  it.each([
    ['a counter with a sample', family('a_total', 'counter', 'a_total 1'), []],
    ['a counter with labels', family('a_total', 'counter', 'a_total{x="1"} 1'), []],
    ['a declared family with none', family('a_total', 'counter'), ['a_total']],
    ['a histogram by its buckets', family('h_seconds', 'histogram', 'h_seconds_bucket{le="+Inf"} 1', 'h_seconds_sum 1', 'h_seconds_count 1'), []],
    ['a histogram with none', family('h_seconds', 'histogram'), ['h_seconds']],
    ['a sample of another family does not count', [family('a', 'gauge'), family('a_b', 'gauge', 'a_b 1')].join('\n'), ['a']],
    ['a summary by its quantiles', family('s', 'summary', 's{quantile="0.5"} 1'), []],
  ])('%s', (_what, text, want) => {
    expect(familiesWithoutSamples(text)).toEqual(want);
  });
});
