// The UnitCatalog follows a FunctionCatalog and says which serving units
// changed: what the backend is told to deploy, restart or remove.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { UnitCatalog } from '../../src/versions/unit-catalog.js';
import { functionOf, versionOf } from '../helpers/hand-versions.js';

const opened: UnitCatalog[] = [];
afterEach(() => {
  for (const u of opened.splice(0)) u.close();
});

function setup() {
  const functions = new MemoryCatalog();
  const units = new UnitCatalog(functions);
  opened.push(units);
  const changed: string[] = [];
  units.onChange((key) => changed.push(key));
  return { functions, units, changed };
}

describe('UnitCatalog', () => {
  it('lists the units a catalog already holds when it is made', () => {
    const functions = new MemoryCatalog();
    functions.set(functionOf('f'));
    functions.setVersions('f', [versionOf('f', '1')]);
    const units = new UnitCatalog(functions);
    opened.push(units);
    expect(units.list().map((u) => u.metadata.name)).toEqual(['f', 'f:1']);
    expect(units.keysOf('f')).toEqual(['f', 'f:1']);
  });

  it('emits a new function\'s $LATEST, then only a new version\'s key when one is published', () => {
    const { functions, units, changed } = setup();
    functions.set(functionOf('f'));
    expect(changed).toEqual(['f']);
    functions.setVersions('f', [versionOf('f', '1')]);
    expect(changed).toEqual(['f', 'f:1']);
    functions.setVersions('f', [versionOf('f', '1'), versionOf('f', '2')]);
    expect(changed).toEqual(['f', 'f:1', 'f:2']);
    expect(units.get('f:2')?.spec.code.inline?.['index.mjs']).toContain('"v2"');
  });

  it('emits nothing for a change of aliases alone: no unit\'s spec changes, so nothing restarts', () => {
    const { functions, changed } = setup();
    functions.set(functionOf('f'));
    functions.setVersions('f', [versionOf('f', '1'), versionOf('f', '2')]);
    changed.length = 0;
    functions.set(functionOf('f', {}, [{ name: 'live', version: '1' }]));
    functions.set(functionOf('f', {}, [{ name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 } }]));
    functions.set(functionOf('f', {}, [{ name: 'live', version: '2' }, { name: 'old', version: '1', description: 'rollback' }]));
    functions.set(functionOf('f', { versioning: { publishOnChange: true } }, [{ name: 'live', version: '2' }]));
    expect(changed).toEqual([]);
  });

  it('emits the versions whose provisioned minimum an alias changes, and only those', () => {
    const { functions, units, changed } = setup();
    functions.set(functionOf('f'));
    functions.setVersions('f', [versionOf('f', '1'), versionOf('f', '2')]);
    changed.length = 0;
    functions.set(functionOf('f', {}, [{ name: 'live', version: '2', minInstances: 2 }]));
    expect(changed).toEqual(['f:2']);
    expect(units.get('f:2')?.spec.scaling.minInstances).toBe(2);
    expect(units.get('f:1')?.spec.scaling.minInstances).toBe(0);
  });

  it('emits $LATEST alone when the function\'s own spec changes', () => {
    const { functions, changed } = setup();
    functions.set(functionOf('f'));
    functions.setVersions('f', [versionOf('f', '1')]);
    changed.length = 0;
    functions.set(functionOf('f', { memoryMB: 1024 }));
    expect(changed).toEqual(['f']);
  });

  it('emits every unit of a function set again unchanged: what its specs refer to (a ConfigMap, a Secret) changed, and the backend decides what that restarts', () => {
    const { functions, changed } = setup();
    const fn = functionOf('f', { env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'a' } } }] });
    functions.set(fn);
    functions.setVersions('f', [versionOf('f', '1')]);
    changed.length = 0;
    // As the functions directory's loader does when a referenced ConfigMap changes.
    functions.set(fn);
    expect(changed).toEqual(['f', 'f:1']);
  });

  it('removes a deleted version\'s key, and every key of a removed function', () => {
    const { functions, units, changed } = setup();
    functions.set(functionOf('f'));
    functions.set(functionOf('g'));
    functions.setVersions('f', [versionOf('f', '1'), versionOf('f', '2')]);
    changed.length = 0;
    functions.setVersions('f', [versionOf('f', '2')]);
    expect(changed).toEqual(['f:1']);
    expect(units.get('f:1')).toBeUndefined();
    changed.length = 0;
    functions.delete('f');
    expect(changed.sort()).toEqual(['f', 'f:2']);
    expect(units.keysOf('f')).toEqual([]);
    expect(units.list().map((u) => u.metadata.name)).toEqual(['g']);
  });

  it('stops following the function catalog once closed', () => {
    const { functions, units, changed } = setup();
    units.close();
    functions.set(functionOf('f'));
    expect(changed).toEqual([]);
    expect(units.get('f')).toBeUndefined();
  });
});
