import { describe, expect, it } from 'vitest';
import { formatTable, quantile, summarise, summarize } from './report.js';

describe('bench report', () => {
  it('takes nearest-rank quantiles and rates', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(s, 0.5)).toBe(50);
    expect(quantile(s, 0.99)).toBe(99);
    expect(quantile([], 0.5)).toBeNaN();
    expect(summarise('x', [1, 2, 3], { wallMs: 6 })).toEqual({ name: 'x', p50Ms: 2, p99Ms: 3, rps: 500 });
    expect(summarize('y', [1], { rps: 10.4, note: 'n' })).toEqual({ name: 'y', p50Ms: 1, p99Ms: 1, rps: 10, note: 'n' });
  });

  it('prints an aligned table', () => {
    const t = formatTable('T', [{ name: 'a', p50Ms: 0.1234, p99Ms: 250, rps: 9 }, { name: 'bb', p50Ms: Number.NaN, p99Ms: Number.NaN, note: 'skipped' }]);
    expect(t).toContain('benchmark');
    expect(t).toContain('0.123');
    expect(t).toContain('skipped');
  });
});
