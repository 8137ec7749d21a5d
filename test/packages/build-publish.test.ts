import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HearthFunction } from '../../src/api/function.js';
import { validateFunction } from '../../src/api/validate.js';
import { buildPackage } from '../../src/packages/build.js';
import { CONFIGMAP_MAX_BYTES, packageConfigMap } from '../../src/packages/deploy-cluster.js';
import { optEnv } from '../../src/packages/opt-env.js';
import { layerEnv, packagePodParts } from '../../src/packages/pod-spec.js';
import { localSources, replaceSource } from '../../src/packages/publish.js';
import { unzipInto } from '../../src/packages/unzip.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-build-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fn(spec: unknown): HearthFunction {
  const r = validateFunction({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.value;
}

describe('buildPackage', () => {
  it('keeps executable bits and inside links, skips .git, and gives the same bytes for the same tree', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'lib'), { recursive: true });
    mkdirSync(join(src, '.git'));
    writeFileSync(join(src, '.git', 'HEAD'), 'ref');
    writeFileSync(join(src, 'bootstrap'), '#!/bin/sh\n');
    chmodSync(join(src, 'bootstrap'), 0o755);
    writeFileSync(join(src, 'lib', 'a.txt'), 'a'.repeat(1000));
    symlinkSync('a.txt', join(src, 'lib', 'b.txt'));
    const one = await buildPackage(src);
    const two = await buildPackage(src);
    expect(one.sha256).toBe(two.sha256);
    expect(one.files).toBe(2);
    const out = join(dir, 'out');
    const stats = await unzipInto(one.zip, out);
    expect(stats).toMatchObject({ files: 2, symlinks: 1 });
    expect(statSync(join(out, 'bootstrap')).mode & 0o777).toBe(0o755);
    expect(() => statSync(join(out, '.git'))).toThrow();
  });

  it('refuses a link that leaves the directory', async () => {
    const src = join(dir, 'leaky');
    mkdirSync(src);
    symlinkSync('/etc/passwd', join(src, 'passwd'));
    await expect(buildPackage(src)).rejects.toThrow(/points outside/);
  });
});

describe('publishing', () => {
  it('finds local sources and rewrites the raw document, code and layers', () => {
    const raw = { metadata: { name: 'f' }, spec: { runtime: 'provided', code: { package: { path: 'fn.zip' } }, layers: [{ url: 'https://e/l.zip', sha256: 'a'.repeat(64) }, { path: '/abs/l.zip' }] } };
    const f = fn(raw.spec);
    expect(localSources(f.spec, '/base')).toEqual([
      { slot: { kind: 'code' }, path: '/base/fn.zip' },
      { slot: { kind: 'layer', index: 1 }, path: '/abs/l.zip' },
    ]);
    const out = replaceSource(replaceSource(raw, { kind: 'code' }, { configMap: { name: 'f-package', key: 'package.zip' }, sha256: 'b'.repeat(64) }), { kind: 'layer', index: 1 }, { path: 'x.zip' });
    expect(out).toMatchObject({ spec: { code: { package: { configMap: { name: 'f-package' } } }, layers: [{ url: 'https://e/l.zip' }, { path: 'x.zip' }] } });
    expect(raw.spec.code.package).toEqual({ path: 'fn.zip' });
    expect(out).not.toHaveProperty('spec.memoryMB');
  });

  it('puts a package into a ConfigMap binaryData key', () => {
    const cm = packageConfigMap('f', 'ns', { kind: 'layer', index: 2 }, Buffer.from('zip!'), 'c'.repeat(64));
    expect(cm).toMatchObject({ metadata: { name: 'f-layer-2', namespace: 'ns' }, binaryData: { 'package.zip': Buffer.from('zip!').toString('base64') } });
    expect(CONFIGMAP_MAX_BYTES).toBeLessThan(1024 * 1024);
  });
});

describe('layer environment', () => {
  it('sets Lambda\'s layer paths after the function\'s own', () => {
    expect(optEnv('/o', 'python3.12', { PATH: '/usr/bin', PYTHONPATH: '/mine' })).toEqual({
      HEARTH_OPT_DIR: '/o',
      PYTHONPATH: '/mine:/o/python:/o/python/lib/python3.12/site-packages',
      LD_LIBRARY_PATH: '/o/lib',
      PATH: '/usr/bin:/o/bin',
    });
    expect(optEnv('/o', 'nodejs20', {}).NODE_PATH).toBe('/o/nodejs/node20/node_modules:/o/nodejs/node_modules');
  });
});

describe('packagePodParts', () => {
  it('is undefined without packages or layers', () => {
    expect(packagePodParts(fn({ runtime: 'python3.12', handler: 'a.b', code: { inline: { 'a.py': '' } } }), { image: 'hearth' })).toBeUndefined();
  });

  it('fills /var/task and /opt with hearth unpack from ConfigMap volumes and URLs', () => {
    const h = 'd'.repeat(64);
    const withLayer = fn({ runtime: 'python3.12', handler: 'a.b', code: { package: { configMap: { name: 'f-package', key: 'package.zip' }, sha256: h } }, layers: [{ url: 'https://e/l.zip', sha256: h }] });
    const parts = packagePodParts(withLayer, { image: 'hearth:1' });
    expect(parts?.initContainers.map((c) => c.args)).toEqual([
      ['unpack', '--skip-missing', '--dest', '/var/task', `/hearth/sources/code/package.zip#sha256=${h}`],
      ['unpack', '--skip-missing', '--dest', '/opt', `https://e/l.zip#sha256=${h}`],
    ]);
    expect(parts?.volumes.map((v) => v.name)).toEqual(['task', 'src-code', 'opt']);
    expect(parts?.volumes[1]?.configMap).toEqual({ name: 'f-package', items: [{ key: 'package.zip', path: 'package.zip' }] });
    expect(parts?.runtimeMounts).toEqual([
      { name: 'task', mountPath: '/var/task', readOnly: true },
      { name: 'opt', mountPath: '/opt', readOnly: true },
    ]);
    expect(layerEnv(withLayer)).toContainEqual({ name: 'PYTHONPATH', value: '/opt/python:/opt/python/lib/python3.12/site-packages' });
  });

  it('refuses a local path, which only the embedded platform can read', () => {
    expect(() => packagePodParts(fn({ runtime: 'provided', code: { package: { path: 'fn.zip' } } }), { image: 'hearth' })).toThrow(/hearth deploy/);
  });
});
