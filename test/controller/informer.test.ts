import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Informer } from '../../src/kube/informer.js';
import { RESOURCES } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';

type Obj = { metadata: { name: string; namespace: string; resourceVersion: string; managedFields?: unknown[] }; data?: string };
const obj = (name: string, rv: string, data?: string): Obj => ({ metadata: { name, namespace: 'n', resourceVersion: rv, managedFields: [{}] }, ...(data !== undefined ? { data } : {}) });

let server: http.Server | undefined;
afterEach(() => server?.close());

/** A fake API server: lists answer from `lists` in turn (pages by `continue`), watches from `watches` in turn (each a list of chunks: latin1 strings of the bytes to send). */
async function fake(lists: { items: Obj[]; rv: string }[][], watches: string[][]): Promise<{ rest: KubeRest; requests: string[] }> {
  const requests: string[] = [];
  let list = 0;
  let watch = 0;
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${url.searchParams.get('watch') === 'true' ? 'watch' : 'list'} rv=${url.searchParams.get('resourceVersion') ?? ''} continue=${url.searchParams.get('continue') ?? ''}`);
    if (url.searchParams.get('watch') === 'true') {
      const chunks = watches[watch++];
      if (chunks === undefined) return; // hang: no more events
      res.writeHead(200, { 'content-type': 'application/json' });
      const write = (i: number): void => {
        if (i === chunks.length) return void res.end();
        res.write(Buffer.from(chunks[i] ?? '', 'latin1'), () => setTimeout(() => write(i + 1), 5));
      };
      write(0);
      return;
    }
    const pages = lists[Math.min(list, lists.length - 1)] ?? [];
    const page = Number(url.searchParams.get('continue') ?? '0');
    if (page + 1 >= pages.length) list++;
    const p = pages[page];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ metadata: { resourceVersion: p?.rv, ...(page + 1 < pages.length ? { continue: String(page + 1) } : {}) }, items: p?.items ?? [] }));
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { rest: new KubeRest({ getCurrentCluster: () => ({ server: base }), applyToHTTPSOptions: async () => undefined }), requests };
}

const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('Informer', () => {
  it('lists in pages, watches from the list, keeps a character split between chunks whole, and lists again on 410', async () => {
    const event = JSON.stringify({ type: 'MODIFIED', object: obj('a', '12', 'é€') });
    const split = Buffer.from(`${event}\n`).toString('latin1');
    const cut = split.indexOf('\u00c3') + 1; // between the two bytes of é
    const { rest, requests } = await fake(
      [[{ items: [obj('a', '1'), obj('b', '2')], rv: '10' }, { items: [obj('c', '3')], rv: '99' }], [{ items: [obj('a', '13'), obj('d', '14')], rv: '20' }]],
      [[split.slice(0, cut), split.slice(cut), `${JSON.stringify({ type: 'ERROR', object: { code: 410 } })}\n`]],
    );
    const seen: string[] = [];
    const inf = new Informer<Obj>(rest, RESOURCES.ConfigMap, { namespace: 'n' });
    inf.on({ add: (o) => seen.push(`add ${o.metadata.name}`), update: (o) => seen.push(`update ${o.metadata.name} ${o.data ?? ''}`), delete: (o) => seen.push(`delete ${o.metadata.name}`) });
    await inf.start();
    expect(inf.synced).toBe(true);
    expect(inf.list('n').map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(inf.get('a', 'n')?.metadata.managedFields).toBeUndefined();
    await until(() => seen.includes('add d'));
    await inf.stop();
    expect(seen).toEqual(['add a', 'add b', 'add c', 'update a é€', 'delete b', 'delete c', 'update a ', 'add d']);
    expect(requests.slice(0, 4)).toEqual(['list rv= continue=', 'list rv= continue=1', 'watch rv=10 continue=', 'list rv= continue=']);
  });

  it('answers byIndex from an index kept through updates, relists and deletes', async () => {
    const modified = (name: string, rv: string, data: string): string => `${JSON.stringify({ type: 'MODIFIED', object: obj(name, rv, data) })}\n`;
    const { rest } = await fake(
      [[{ items: [obj('a', '1', 'x'), obj('b', '2', 'x'), obj('c', '3', 'y')], rv: '10' }], [{ items: [obj('a', '12', 'y'), obj('c', '3', 'y')], rv: '20' }]],
      [[modified('a', '11', 'y'), `${JSON.stringify({ type: 'ERROR', object: { code: 410 } })}\n`]],
    );
    const inf = new Informer<Obj>(rest, RESOURCES.ConfigMap, { namespace: 'n', indexBy: (o) => o.data });
    const names = (v: string): string[] => inf.byIndex('n', v).map((o) => o.metadata.name).sort();
    await inf.start();
    expect(names('x')).toEqual(['a', 'b']);
    await until(() => inf.get('a', 'n')?.metadata.resourceVersion === '12');
    await inf.stop();
    expect(names('x')).toEqual([]);
    expect(names('y')).toEqual(['a', 'c']);
  });
});
