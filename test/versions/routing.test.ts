// Per-call routing: which version a qualifier and a draw pick. The draw is
// uniform in [0, 1); an alias's additional version takes it iff draw < its
// weight. Tested by enumerating draws, as the reading list asks after
// fission's PR #3617 (a draw that could reach the total sent ~1 % of calls to
// a version weighted 0).
import { describe, expect, it } from 'vitest';
import { aliasVersion, resolveTarget } from '../../src/versions/routing.js';
import { functionOf } from '../helpers/hand-versions.js';

/** Every draw of a grid of `n` over [0, 1), and the values at the ends a double can take. */
function draws(n: number): number[] {
  const out = Array.from({ length: n }, (_, k) => k / n);
  out.push(Number.MIN_VALUE, 1 - Number.EPSILON / 2);
  return out;
}

const GRID = 1000;

describe('aliasVersion over every draw', () => {
  it.each([
    { weight: 0, extraShare: 0 },
    { weight: 1, extraShare: GRID },
    { weight: 0.1, extraShare: 100 },
    { weight: 0.5, extraShare: 500 },
    { weight: 0.999, extraShare: 999 },
    { weight: 0.001, extraShare: 1 },
  ])('weight $weight: $extraShare of $GRID grid draws go to the additional version', ({ weight, extraShare }) => {
    const alias = { version: '1', additionalVersionWeights: { '2': weight } };
    const grid = draws(GRID).slice(0, GRID);
    const picked = grid.map((d) => aliasVersion(alias, d));
    expect(picked.filter((v) => v === '2')).toHaveLength(extraShare);
    // Exactly the draws below the weight, no others.
    grid.forEach((d, k) => expect(picked[k]).toBe(d < weight ? '2' : '1'));
  });

  it.each([
    { case: 'weight 0, the smallest draw', weight: 0, draw: 0, want: '1' },
    { case: 'weight 0, the largest draw', weight: 0, draw: 1 - Number.EPSILON / 2, want: '1' },
    { case: 'weight 1, the smallest draw', weight: 1, draw: 0, want: '2' },
    { case: 'weight 1, the largest draw below 1', weight: 1, draw: 1 - Number.EPSILON / 2, want: '2' },
    { case: 'weight 0.1, a draw of exactly 0.1', weight: 0.1, draw: 0.1, want: '1' },
    { case: 'weight 0.1, the draw just below 0.1', weight: 0.1, draw: 0.09999999999999999, want: '2' },
    { case: 'weight 0.1, a draw of 0', weight: 0.1, draw: 0, want: '2' },
  ])('$case → version $want', ({ weight, draw, want }) => {
    expect(aliasVersion({ version: '1', additionalVersionWeights: { '2': weight } }, draw)).toBe(want);
  });

  it('sends every draw to the alias\'s version when it has no additional one', () => {
    for (const d of draws(GRID)) {
      expect(aliasVersion({ version: '3' }, d)).toBe('3');
      expect(aliasVersion({ version: '3', additionalVersionWeights: {} }, d)).toBe('3');
    }
  });
});

describe('resolveTarget', () => {
  const fn = functionOf('f', {}, [
    { name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 } },
    { name: 'dev', version: '$LATEST' },
    { name: 'stale', version: '7' },
    { name: 'half-gone', version: '1', additionalVersionWeights: { '9': 0.5 } },
  ]);
  const published = new Set(['1', '2']);

  it.each([
    { qualifier: undefined, draw: 0.5, want: { ok: true, version: '$LATEST' } },
    { qualifier: '$LATEST', draw: 0.5, want: { ok: true, version: '$LATEST' } },
    { qualifier: '1', draw: 0, want: { ok: true, version: '1' } },
    { qualifier: '2', draw: 0.99, want: { ok: true, version: '2' } },
    { qualifier: 'live', draw: 0.05, want: { ok: true, version: '2', alias: 'live' } },
    { qualifier: 'live', draw: 0.1, want: { ok: true, version: '1', alias: 'live' } },
    { qualifier: 'dev', draw: 0.5, want: { ok: true, version: '$LATEST', alias: 'dev' } },
    // The alias's other version is published: only a draw that picks the missing one fails.
    { qualifier: 'half-gone', draw: 0.6, want: { ok: true, version: '1', alias: 'half-gone' } },
    { qualifier: 'half-gone', draw: 0.4, want: { ok: false, reason: 'missing-version' } },
    { qualifier: 'stale', draw: 0.5, want: { ok: false, reason: 'missing-version' } },
    { qualifier: '3', draw: 0.5, want: { ok: false, reason: 'unknown-qualifier' } },
    { qualifier: 'nope', draw: 0.5, want: { ok: false, reason: 'unknown-qualifier' } },
    // Not a version number (leading zero), so it is looked for among aliases, and is none.
    { qualifier: '01', draw: 0.5, want: { ok: false, reason: 'unknown-qualifier' } },
  ])('$qualifier with draw $draw → $want', ({ qualifier, draw, want }) => {
    expect(resolveTarget(fn, published, qualifier, draw)).toMatchObject(want);
  });
});
