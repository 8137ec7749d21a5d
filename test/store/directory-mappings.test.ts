// EventSourceMappings written through the embedded platform's FunctionStore
// into a real functions directory: a new mapping is NAME.esm.yaml, which the
// files loader reads back as the same mapping (and UUID); an update edits
// the file that holds it in place (comments and other documents kept, even
// a hand-written file); a delete takes its document, or its file; a second
// mapping of the same name is a conflict, an invalid one is refused with the
// schema's problems and nothing is written.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventSourceMappingSpecInput } from '../../src/api/event-source-mapping.js';
import { loadFunctionDir } from '../../src/platform/function-files.js';
import { mappingUuid } from '../../src/sources/mapping-runner.js';
import { directoryStoreOn } from '../helpers/directory-store.js';
import { refused } from '../helpers/store-refusals.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-esmstore-'));
  dirs.push(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

const kafka = (topic = 'orders'): EventSourceMappingSpecInput => ({ functionName: 'worker', kafka: { bootstrapServers: ['127.0.0.1:9092'], topics: [topic] }, batchSize: 10 });

const HAND = `# Orders feed, kept by hand.
apiVersion: hearth.dev/v1alpha1
kind: EventSourceMapping
metadata:
  name: orders
spec:
  functionName: worker # the order worker
  batchSize: 50
  redisStreams:
    url: redis://127.0.0.1:6379
    streams: [orders]
---
apiVersion: v1
kind: Secret
metadata:
  name: keep-me
stringData:
  password: x
`;

describe('EventSourceMappings in the functions directory', () => {
  it('creates NAME.esm.yaml, which the loader reads back as the same mapping and UUID, without the schema defaults written', async () => {
    const { dir, store } = await directoryStoreOn(tempDir());
    const created = await store.createMapping('worker-orders', kafka());
    expect(created.mapping.spec).toMatchObject({ functionName: 'worker', batchSize: 10, enabled: true, startingPosition: 'LATEST' });
    expect(created.revision).toMatch(/^[0-9a-f]{64}$/);
    const text = readFileSync(join(dir, 'worker-orders.esm.yaml'), 'utf8');
    expect(text).toContain('kind: EventSourceMapping');
    expect(text).not.toContain('startingPosition');
    const loaded = (await loadFunctionDir(dir)).mappings;
    expect(loaded.map((m) => m.metadata.name)).toEqual(['worker-orders']);
    expect(mappingUuid(loaded[0] as never)).toBe(mappingUuid(created.mapping));
    expect((await store.listMappings()).map((m) => [m.mapping.metadata.name, m.revision])).toEqual([['worker-orders', created.revision]]);
  });

  it('refuses a second mapping of the same name (conflict), one the schema refuses (invalid, with its problems) and writes nothing', async () => {
    const { dir, store } = await directoryStoreOn(tempDir({ 'hand.yaml': HAND }));
    await refused(store.createMapping('orders', kafka()), 'conflict');
    const bad = await refused(store.createMapping('bad', { ...kafka(), maximumRecordAgeInSeconds: 30 }), 'invalid');
    expect(bad.problems).toEqual([{ path: 'spec.maximumRecordAgeInSeconds', message: 'must be -1 or at least 60' }]);
    const both = await refused(store.createMapping('both', { ...kafka(), redisStreams: { streams: ['s'] } }), 'invalid');
    expect(both.problems.map((p) => p.message)).toContain('exactly one of kafka and redisStreams must be set');
    expect(readdirSync(dir).sort()).toEqual(['hand.yaml']);
  });

  it('updates a hand-written mapping in place: only the changed fields, comments and other documents kept', async () => {
    const { dir, store } = await directoryStoreOn(tempDir({ 'hand.yaml': HAND }));
    const before = (await store.listMappings())[0];
    const updated = await store.updateMapping('orders', (spec) => ({ ...spec, enabled: false, batchSize: 5 }));
    expect(updated.mapping.spec).toMatchObject({ enabled: false, batchSize: 5, functionName: 'worker' });
    expect(updated.revision).not.toBe(before?.revision);
    const text = readFileSync(join(dir, 'hand.yaml'), 'utf8');
    expect(text).toContain('# Orders feed, kept by hand.');
    expect(text).toContain('functionName: worker # the order worker');
    expect(text).toContain('batchSize: 5');
    expect(text).toContain('enabled: false');
    expect(text).toContain('name: keep-me');
    expect((await loadFunctionDir(dir)).mappings[0]?.spec).toMatchObject({ enabled: false, batchSize: 5 });
    // An edit the schema refuses changes nothing.
    await refused(store.updateMapping('orders', (spec) => ({ ...spec, batchSize: 0 })), 'invalid');
    expect(readFileSync(join(dir, 'hand.yaml'), 'utf8')).toBe(text);
    await refused(store.updateMapping('nope', (spec) => spec), 'not-found');
  });

  it('deletes a mapping: its own file goes, a shared file keeps its other documents', async () => {
    const { dir, store } = await directoryStoreOn(tempDir({ 'hand.yaml': HAND }));
    await store.createMapping('worker-orders', kafka());
    await store.deleteMapping('worker-orders');
    expect(existsSync(join(dir, 'worker-orders.esm.yaml'))).toBe(false);
    await store.deleteMapping('orders');
    const text = readFileSync(join(dir, 'hand.yaml'), 'utf8');
    expect(text).not.toContain('EventSourceMapping');
    expect(text).toContain('name: keep-me');
    expect((await loadFunctionDir(dir)).mappings).toEqual([]);
    await refused(store.deleteMapping('orders'), 'not-found');
  });
});
