import { describe, expect, it } from 'vitest';
import { renderFaultTable, type FaultRow } from './report-render.js';

const row = (over: Partial<FaultRow>): FaultRow => ({ suite: 's', kind: 'fault', name: 'n', tried: 1, expected: 'e', observed: 'o', accepted: 0, lost: 0, passed: true, ...over });

describe('renderFaultTable', () => {
  it('puts faults before bad inputs, totals accepted and lost, and escapes pipes', () => {
    const md = renderFaultTable(
      [row({ kind: 'bad input', name: 'fuzz', tried: 100 }), row({ name: 'a | b', accepted: 5, lost: 1, passed: false, observed: 'x\ny' })],
      { generatedAt: 'T', command: 'c' },
    );
    const body = md.split('\n').filter((l) => l.startsWith('| fault') || l.startsWith('| bad input'));
    expect(body[0]).toBe('| fault | a \\| b | 1 | e | x y | 5 | 1 | **no** |');
    expect(body[1]).toBe('| bad input | fuzz | 100 | e | o | 0 | 0 | yes |');
    expect(md).toContain('2 cases, 101 tries in all, 1 case(s) not as expected; 5 async events accepted, **1 lost**.');
  });
});
