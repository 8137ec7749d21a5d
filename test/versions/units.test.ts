// Serving units: keys, metric labels, the minimums aliases provision, what
// each unit of a function runs, and the Kubernetes names of versions.
import { describe, expect, it } from 'vitest';
import { AliasSchema, type AliasInput } from '../../src/api/function.js';
import { aliasMinimums, servingUnits, splitUnitKey, unitKey, unitLabels, versionObjectName } from '../../src/versions/units.js';
import { functionOf, versionOf } from '../helpers/hand-versions.js';

describe('unit keys', () => {
  it.each([
    { name: 'fn', version: '$LATEST', key: 'fn' },
    { name: 'fn', version: '1', key: 'fn:1' },
    { name: 'my-fn', version: '42', key: 'my-fn:42' },
  ])('$name $version ⇄ $key', ({ name, version, key }) => {
    expect(unitKey(name, version)).toBe(key);
    expect(splitUnitKey(key)).toEqual({ name, version });
    expect(unitLabels(key)).toEqual({ function: name, version });
  });
});

const aliases = (...list: AliasInput[]) => list.map((a) => AliasSchema.parse(a));

describe('aliasMinimums', () => {
  it.each([
    { case: 'no aliases', aliases: undefined, want: {} },
    { case: 'an alias without a minimum provisions nothing', aliases: aliases({ name: 'live', version: '1' }), want: {} },
    { case: 'an alias to one version', aliases: aliases({ name: 'live', version: '1', minInstances: 3 }), want: { '1': 3 } },
    { case: 'an alias to $LATEST', aliases: aliases({ name: 'dev', version: '$LATEST', minInstances: 2 }), want: { $LATEST: 2 } },
    { case: 'a 10 % share of 1 still gets one warm instance', aliases: aliases({ name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 }, minInstances: 1 }), want: { '1': 1, '2': 1 } },
    { case: 'weights split the minimum, rounded up', aliases: aliases({ name: 'live', version: '1', additionalVersionWeights: { '2': 0.25 }, minInstances: 10 }), want: { '1': 8, '2': 3 } },
    { case: 'a weight of 0 provisions nothing for the additional version', aliases: aliases({ name: 'live', version: '1', additionalVersionWeights: { '2': 0 }, minInstances: 4 }), want: { '1': 4 } },
    { case: 'a weight of 1 provisions nothing for the alias\'s own version', aliases: aliases({ name: 'live', version: '1', additionalVersionWeights: { '2': 1 }, minInstances: 4 }), want: { '2': 4 } },
    {
      case: 'aliases to the same version add up',
      aliases: aliases({ name: 'live', version: '1', minInstances: 2 }, { name: 'also', version: '1', minInstances: 3 }),
      want: { '1': 5 },
    },
  ])('$case', ({ aliases: list, want }) => {
    expect(Object.fromEntries(aliasMinimums(list))).toEqual(want);
  });
});

describe('servingUnits', () => {
  it('gives $LATEST the function\'s spec without aliases and versioning, and each version its snapshot', () => {
    const fn = functionOf('f', { memoryMB: 256, versioning: { publishOnChange: true } }, [{ name: 'live', version: '1' }]);
    const units = servingUnits(fn, [versionOf('f', '1', { memoryMB: 512 }), versionOf('f', '2')]);
    expect(units.map((u) => u.metadata.name)).toEqual(['f', 'f:1', 'f:2']);
    const [latest, one] = units;
    expect(latest?.spec.aliases).toBeUndefined();
    expect(latest?.spec.versioning).toEqual({ publishOnChange: false });
    expect(latest?.spec.memoryMB).toBe(256);
    expect(one?.spec.memoryMB).toBe(512);
    expect(one?.spec.code.inline?.['index.mjs']).toContain('"v1"');
  });

  it('scales a version only for the aliases that point to it: unreferenced versions have no minimum', () => {
    const fn = functionOf('f', { scaling: { minInstances: 1, maxInstances: 5 } }, [
      { name: 'live', version: '1', additionalVersionWeights: { '2': 0.5 }, minInstances: 2 },
      { name: 'dev', version: '$LATEST', minInstances: 1 },
      { name: 'big', version: '4', minInstances: 5 },
    ]);
    const versions = [
      versionOf('f', '1', { scaling: { minInstances: 3, maxInstances: 3 } }),
      versionOf('f', '2'),
      versionOf('f', '3', { scaling: { minInstances: 2 } }),
      versionOf('f', '4', { scaling: { maxInstances: 1 } }),
    ];
    const mins = Object.fromEntries(servingUnits(fn, versions).map((u) => [u.metadata.name, u.spec.scaling.minInstances]));
    // $LATEST: its own 1 plus the dev alias's 1. Versions 1 and 2: half of live's 2 each (version 1's own 3 is not used).
    // Version 3: no alias points to it, so it scales to zero whatever its snapshot said. Version 4: big's 5 capped by its maxInstances.
    expect(mins).toEqual({ f: 2, 'f:1': 1, 'f:2': 1, 'f:3': 0, 'f:4': 1 });
  });

  it('caps every version with the function\'s reserved concurrency, and skips versions of other functions', () => {
    const fn = functionOf('f', { reservedConcurrency: 3 });
    const units = servingUnits(fn, [versionOf('f', '1'), versionOf('g', '1')]);
    expect(units.map((u) => [u.metadata.name, u.spec.reservedConcurrency])).toEqual([['f', 3], ['f:1', 3]]);
  });
});

describe('versionObjectName', () => {
  it.each([
    { name: 'f', version: '1', want: 'f-v1' },
    { name: 'a'.repeat(60), version: '1', want: `${'a'.repeat(60)}-v1` },
  ])('$name v$version → $want', ({ name, version, want }) => {
    expect(versionObjectName(name, version)).toBe(want);
  });

  it('shortens a name that would not fit a DNS label, keeping distinct names distinct', () => {
    const a = versionObjectName(`${'a'.repeat(62)}b`, '1234567890');
    const b = versionObjectName(`${'a'.repeat(62)}c`, '1234567890');
    for (const n of [a, b]) {
      expect(n.length).toBeLessThanOrEqual(63);
      expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(n.endsWith('-v1234567890')).toBe(true);
    }
    expect(a).not.toBe(b);
  });
});
