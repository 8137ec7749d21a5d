// The console's pure parts: the ZIP it builds from the editor (read back by
// yauzl, as the gateway's package checks read it), the REPORT line it shows,
// handler files and names, and saved test events.
import { describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { decodeLogResult, parseReport } from '../../console/src/report.js';
import { deleteEvent, loadEvents, saveEvent, type KeyValueStore } from '../../console/src/saved-events.js';
import { functionNameProblem, handlerFile, RUNTIME_CHOICES } from '../../console/src/templates.js';
import { buildZip, crc32, entryBytes, listZip, toBase64 } from '../../console/src/zip.js';

function unzip(bytes: Uint8Array): Promise<Array<{ name: string; text: string; mode: number }>> {
  return new Promise((done, fail) => {
    yauzl.fromBuffer(Buffer.from(bytes), { lazyEntries: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) return fail(err);
      const out: Array<{ name: string; text: string; mode: number }> = [];
      zip.on('entry', (e: yauzl.Entry) => {
        zip.openReadStream(e, (err2, stream) => {
          if (err2 || !stream) return fail(err2);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.push({ name: e.fileName, text: Buffer.concat(chunks).toString('utf8'), mode: (e.externalFileAttributes >>> 16) & 0o777 });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => done(out));
      zip.on('error', fail);
      zip.readEntry();
    });
  });
}

describe('the ZIP of the editor\'s code', () => {
  it('crc32 is the standard one', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });

  it('yauzl reads it back: names (UTF-8), contents, CRCs and mode 0644; listZip and entryBytes read it too', async () => {
    const code = "def lambda_handler(event, context):\n    return 'héllo ✓'\n";
    const zip = buildZip([
      { name: 'lambda_function.py', data: code },
      { name: 'lib/ünïcode.txt', data: new Uint8Array([0, 1, 2, 255]) },
    ]);
    const entries = await unzip(zip);
    expect(entries.map((e) => e.name)).toEqual(['lambda_function.py', 'lib/ünïcode.txt']);
    expect(entries[0]?.text).toBe(code);
    expect(entries[0]?.mode).toBe(0o644);
    const listed = listZip(zip);
    expect(listed.map((e) => [e.name, e.method])).toEqual([
      ['lambda_function.py', 0],
      ['lib/ünïcode.txt', 0],
    ]);
    expect(new TextDecoder().decode(entryBytes(zip, listed[0] as (typeof listed)[0]))).toBe(code);
    expect([...entryBytes(zip, listed[1] as (typeof listed)[0])]).toEqual([0, 1, 2, 255]);
    expect(Buffer.from(toBase64(zip), 'base64').equals(Buffer.from(zip))).toBe(true);
  });

  it('base64 of more than one slice of bytes', () => {
    const big = new Uint8Array(100_000).map((_, i) => i % 251);
    expect(Buffer.from(toBase64(big), 'base64').equals(Buffer.from(big))).toBe(true);
  });

  it('listZip refuses what is not a ZIP', () => {
    expect(() => listZip(new TextEncoder().encode('not a zip at all, really not'))).toThrow('not a ZIP archive');
  });
});

describe('the report of an invocation', () => {
  it.each([
    {
      name: 'Text REPORT',
      tail: 'START RequestId: a Version: $LATEST\nhello\nEND RequestId: a\nREPORT RequestId: a\tDuration: 2.89 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 4 MB\tInit Duration: 25.02 ms\t\n',
      want: { durationMs: 2.89, billedDurationMs: 3, memorySizeMB: 128, maxMemoryUsedMB: 4, initDurationMs: 25.02 },
    },
    {
      name: 'Text REPORT with a status, no init',
      tail: 'REPORT RequestId: b\tDuration: 3000.40 ms\tBilled Duration: 3001 ms\tMemory Size: 256 MB\tMax Memory Used: 1 MB\tStatus: timeout',
      want: { durationMs: 3000.4, billedDurationMs: 3001, memorySizeMB: 256, maxMemoryUsedMB: 1, status: 'timeout' },
    },
    {
      name: 'JSON platform.report',
      tail: '{"time":"x","type":"platform.start","record":{"requestId":"c"}}\n{"level":"INFO","message":"{ not a report"}\n{"time":"x","type":"platform.report","record":{"requestId":"c","metrics":{"durationMs":1.5,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":30},"status":"success"}}',
      want: { durationMs: 1.5, billedDurationMs: 2, memorySizeMB: 128, maxMemoryUsedMB: 30, status: 'success' },
    },
    { name: 'cut before its report', tail: 'START RequestId: d\n{ half a line', want: undefined },
  ])('$name', ({ tail, want }) => {
    expect(parseReport(tail)).toEqual(want);
  });

  it('decodes X-Amz-Log-Result as UTF-8', () => {
    expect(decodeLogResult(Buffer.from('héllo ✓\n').toString('base64'))).toBe('héllo ✓\n');
  });
});

describe('runtimes, handlers and names', () => {
  it.each([
    { handler: 'lambda_function.lambda_handler', language: 'python', files: [], want: 'lambda_function.py' },
    { handler: 'pkg.app.handler', language: 'python', files: [], want: 'pkg.app.py' },
    { handler: 'index.handler', language: 'javascript', files: [], want: 'index.mjs' },
    { handler: 'index.handler', language: 'javascript', files: ['index.js'], want: 'index.js' },
    { handler: 'app.main', language: 'javascript', files: ['app.cjs', 'other.mjs'], want: 'app.cjs' },
  ] as const)('$handler ($language, $files) is in $want', ({ handler, language, files, want }) => {
    expect(handlerFile(handler, language, files)).toBe(want);
  });

  it.each([
    { name: 'greeter', ok: true },
    { name: 'my-fn-2', ok: true },
    { name: '', ok: false },
    { name: 'Greeter', ok: false },
    { name: '2fast', ok: false },
    { name: 'trailing-', ok: false },
    { name: 'under_score', ok: false },
    { name: 'a'.repeat(64), ok: false },
  ])('name $name: ok=$ok', ({ name, ok }) => {
    expect(functionNameProblem(name) === undefined).toBe(ok);
  });

  it('every runtime offered starts from a handler in its own file', () => {
    for (const r of RUNTIME_CHOICES) expect(handlerFile(r.handler, r.language)).toBe(r.file);
  });
});

describe('saved test events', () => {
  const memory = (): KeyValueStore & { data: Map<string, string> } => {
    const data = new Map<string, string>();
    return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
  };

  it('are kept per function, replaced by name, deleted, and must be JSON', () => {
    const s = memory();
    saveEvent(s, 'a', 'order', '{"id": 1}');
    saveEvent(s, 'a', ' order ', '{"id": 2}');
    saveEvent(s, 'a', 'empty', '{}');
    saveEvent(s, 'b', 'other', '[]');
    expect(loadEvents(s, 'a')).toEqual({ order: '{"id": 2}', empty: '{}' });
    expect(deleteEvent(s, 'a', 'order')).toEqual({ empty: '{}' });
    expect(loadEvents(s, 'b')).toEqual({ other: '[]' });
    expect(() => saveEvent(s, 'a', 'bad', '{nope')).toThrow();
    expect(() => saveEvent(s, 'a', ' ', '{}')).toThrow('Name the event.');
  });

  it('a damaged store reads as no events', () => {
    const s = memory();
    s.data.set('hearth.events.a', '{not json');
    s.data.set('hearth.events.b', '["a"]');
    s.data.set('hearth.events.c', '{"x": 1, "y": "{}"}');
    expect(loadEvents(s, 'a')).toEqual({});
    expect(loadEvents(s, 'b')).toEqual({});
    expect(loadEvents(s, 'c')).toEqual({ y: '{}' });
  });
});
