// The CloudEvents HTTP binding, as a table: what each request becomes (the
// structured JSON form the function gets, and the idempotency key), and what
// is refused with which status and why.
import { describe, expect, it } from 'vitest';
import { BATCH_TYPE, cloudEventKey, MAX_BATCH_EVENTS, parseCloudEvents, STRUCTURED_TYPE, type CloudEventsRequest } from '../../../src/sources/ingress/cloudevents.js';

const LIMITS = { eventBytes: 1024 * 1024 };
const CE = { 'ce-specversion': '1.0', 'ce-id': 'A-1', 'ce-source': '/orders', 'ce-type': 'com.example.order.created' };
const EVENT = { specversion: '1.0', id: 'A-1', source: '/orders', type: 'com.example.order.created' };

function req(contentType: string | undefined, headers: Record<string, string>, body: string | Buffer): CloudEventsRequest {
  return { contentType, headers: { ...(contentType !== undefined ? { 'content-type': contentType } : {}), ...headers }, body: Buffer.isBuffer(body) ? body : Buffer.from(body) };
}

function ok(r: CloudEventsRequest, limits = LIMITS) {
  const p = parseCloudEvents(r, limits);
  if (!p.ok) throw new Error(`refused ${p.status}: ${p.message}`);
  return p;
}

describe('binary mode', () => {
  const cases: Array<[string, CloudEventsRequest, Record<string, unknown>]> = [
    ['JSON data is the data member as JSON', req('application/json', CE, '{"n":1}'), { ...EVENT, datacontenttype: 'application/json', data: { n: 1 } }],
    ['a +json type is JSON too', req('application/vnd.order+json; charset=utf-8', CE, '[1,2]'), { ...EVENT, datacontenttype: 'application/vnd.order+json; charset=utf-8', data: [1, 2] }],
    ['no Content-Type: JSON, the format\'s default', req(undefined, CE, '"hi"'), { ...EVENT, data: 'hi' }],
    ['text is a string', req('text/plain', CE, 'héllo'), { ...EVENT, datacontenttype: 'text/plain', data: 'héllo' }],
    ['bytes are data_base64', req('application/octet-stream', CE, Buffer.from([0, 255, 1])), { ...EVENT, datacontenttype: 'application/octet-stream', data_base64: 'AP8B' }],
    ['text that is not UTF-8 is data_base64', req('text/plain', CE, Buffer.from([0xc3])), { ...EVENT, datacontenttype: 'text/plain', data_base64: 'ww==' }],
    ['no body: no data', req('application/json', CE, ''), { ...EVENT, datacontenttype: 'application/json' }],
    [
      'optional attributes and extensions, percent-decoded',
      req('application/json', { ...CE, 'ce-subject': 'caf%C3%A9 %22x%22', 'ce-time': '2026-12-06T21:35:12.123456Z', 'ce-dataschema': 'https://example.com/s', 'ce-traceparent': '00-abc-01', 'ce-partitionkey': 'p%25' }, '{}'),
      { ...EVENT, subject: 'café "x"', time: '2026-12-06T21:35:12.123456Z', dataschema: 'https://example.com/s', traceparent: '00-abc-01', partitionkey: 'p%', datacontenttype: 'application/json', data: {} },
    ],
  ];
  it.each(cases)('%s', (_name, r, want) => {
    const p = ok(r);
    expect(p.mode).toBe('binary');
    expect(p.events).toHaveLength(1);
    const e = p.events[0]!;
    expect(e.event).toEqual(want);
    expect(JSON.parse(e.payload.toString('utf8'))).toEqual(want);
    expect(e.idempotencyKey).toBe(cloudEventKey('/orders', 'A-1'));
  });
});

describe('structured mode and batches', () => {
  it('a structured event is the function\'s event as sent, null attributes dropped', () => {
    const p = ok(req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, subject: null, data: { n: 1 }, myext: 7, flag: true })));
    expect(p.mode).toBe('structured');
    expect(p.events[0]!.event).toEqual({ ...EVENT, data: { n: 1 }, myext: 7, flag: true });
  });

  it('structured mode wins over ce-* headers (the content type decides the mode)', () => {
    const p = ok(req(`${STRUCTURED_TYPE}; charset=UTF-8`, { ...CE, 'ce-id': 'other' }, JSON.stringify({ ...EVENT, data_base64: 'AAE=' })));
    expect(p.events[0]!.event).toEqual({ ...EVENT, data_base64: 'AAE=' });
  });

  it('a batch is one event each, in order, each with its own key; an empty batch is none', () => {
    const p = ok(req(BATCH_TYPE, {}, JSON.stringify([EVENT, { ...EVENT, id: 'A-2', data: 'x' }])));
    expect(p.mode).toBe('batch');
    expect(p.events.map((e) => e.event)).toEqual([EVENT, { ...EVENT, id: 'A-2', data: 'x' }]);
    expect(p.events.map((e) => e.idempotencyKey)).toEqual([cloudEventKey('/orders', 'A-1'), cloudEventKey('/orders', 'A-2')]);
    expect(ok(req(BATCH_TYPE, {}, '[]')).events).toEqual([]);
  });

  it(`a batch holds at most ${MAX_BATCH_EVENTS} events`, () => {
    const batch = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ ...EVENT, id: String(i) })));
    expect(ok(req(BATCH_TYPE, {}, batch(MAX_BATCH_EVENTS))).events).toHaveLength(MAX_BATCH_EVENTS);
    const p = parseCloudEvents(req(BATCH_TYPE, {}, batch(10_000)), LIMITS);
    expect(p).toEqual({ ok: false, status: 413, message: expect.stringContaining(`at most ${MAX_BATCH_EVENTS} events; this one holds 10000`) });
  });
});

describe('idempotency keys', () => {
  it('are the (source, id) pair, unambiguously', () => {
    expect(cloudEventKey('a', 'b')).toBe(cloudEventKey('a', 'b'));
    expect(cloudEventKey('a', 'b')).not.toBe(cloudEventKey('b', 'a'));
    expect(cloudEventKey('a:b', 'c')).not.toBe(cloudEventKey('a', 'b:c'));
    expect(cloudEventKey('x'.repeat(10_000), 'y').length).toBeLessThanOrEqual(256);
  });
});

describe('refusals', () => {
  const big = 'x'.repeat(2000);
  const cases: Array<[string, CloudEventsRequest, number, string]> = [
    ['no CloudEvents headers or type', req('application/json', {}, '{}'), 415, 'not a CloudEvent'],
    ['a bogus content type', req('this is ; not a type', CE, '{}'), 415, 'is not a media type'],
    ['an event format this receiver does not read', req('application/cloudevents+avro', {}, 'x'), 415, 'application/cloudevents+avro is not supported'],
    ['a batch format it does not read', req('application/cloudevents-batch+protobuf', {}, 'x'), 415, 'batch format'],
    ['a structured event in another charset', req(`${STRUCTURED_TYPE}; charset=latin1`, {}, '{}'), 415, 'must be UTF-8'],
    ['binary without ce-specversion', req('application/json', { 'ce-id': '1', 'ce-source': 's', 'ce-type': 't' }, '{}'), 400, 'specversion is required'],
    ['binary with another specversion', req('application/json', { ...CE, 'ce-specversion': '0.3' }, '{}'), 400, 'specversion "0.3" is not supported'],
    ['binary without an id', req('application/json', { ...CE, 'ce-id': '' }, '{}'), 400, 'id must be a non-empty string'],
    ['binary with a bad attribute name', req('application/json', { ...CE, 'ce-my_ext': '1' }, '{}'), 400, 'not a valid CloudEvents attribute name'],
    ['binary with bad percent-encoding', req('application/json', { ...CE, 'ce-subject': '%E0%A4%A' }, '{}'), 400, 'percent-encoded'],
    ['binary whose JSON data is not JSON', req('application/json', CE, '{nope'), 400, 'not valid JSON'],
    ['binary with a time that is not RFC 3339', req('application/json', { ...CE, 'ce-time': 'yesterday' }, '{}'), 400, 'not an RFC 3339 timestamp'],
    ['structured, not JSON', req(STRUCTURED_TYPE, {}, '{'), 400, 'not valid JSON'],
    ['structured, not UTF-8', req(STRUCTURED_TYPE, {}, Buffer.from([0x7b, 0xff, 0x7d])), 400, 'not valid UTF-8'],
    ['structured, not an object', req(STRUCTURED_TYPE, {}, '[]'), 400, 'must be a JSON object'],
    ['structured without a source', req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, source: undefined })), 400, 'source is required'],
    ['structured with a numeric type', req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, type: 5 })), 400, 'type must be a non-empty string'],
    ['structured with data and data_base64', req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, data: 1, data_base64: 'AA==' })), 400, 'not both'],
    ['structured with bad base64', req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, data_base64: '!!' })), 400, 'base64'],
    ['structured with an upper-case attribute', req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, myExt: 'x' })), 400, 'not valid'],
    ['structured with an object extension', req(STRUCTURED_TYPE, {}, JSON.stringify({ ...EVENT, ext: { a: 1 } })), 400, 'must be a string, a boolean or a 32-bit integer'],
    ['an event over the async limit', req('text/plain', CE, big), 413, 'at most 1000 bytes'],
    ['a batch that is not an array', req(BATCH_TYPE, {}, JSON.stringify(EVENT)), 400, 'JSON array'],
    ['a batch with one bad event is refused whole', req(BATCH_TYPE, {}, JSON.stringify([EVENT, { ...EVENT, id: undefined }])), 400, 'batch event 1: id is required'],
  ];
  it.each(cases)('%s', (_name, r, status, message) => {
    const p = parseCloudEvents(r, { eventBytes: 1000 });
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.status).toBe(status);
    expect(p.message).toContain(message);
  });
});

describe('random requests', () => {
  // A seeded generator: the same requests every run.
  let seed = 0x2f6b1d;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;
  const types = [undefined, 'application/json', 'text/plain', STRUCTURED_TYPE, `${STRUCTURED_TYPE}; charset=utf-16`, BATCH_TYPE, 'application/cloudevents+xml', 'application/octet-stream', ';', 'a/b/c', 'text/*', ''];
  const bodies = ['', '{}', '[]', 'null', '[{}]', JSON.stringify(EVENT), JSON.stringify([EVENT, EVENT]), JSON.stringify({ ...EVENT, data: 1, data_base64: 'AA==' }), '{"specversion":1}', '\u0000', '[' + '['.repeat(5000), '"x"'];
  const headerSets: Array<Record<string, string>> = [{}, CE, { ...CE, 'ce-specversion': '0.3' }, { 'ce-': 'x' }, { 'ce-ID': 'x' }, { ...CE, 'ce-time': '2026-13-45T99:99:99Z' }, { ...CE, 'ce-x': '%zz' }];

  it('never throw: 5,000 requests each become events or a 400, 413 or 415', () => {
    for (let i = 0; i < 5000; i++) {
      const body = rand(4) === 0 ? Buffer.from(Array.from({ length: rand(64) }, () => rand(256))) : Buffer.from(pick(bodies));
      const p = parseCloudEvents(req(pick(types), pick(headerSets), body), { eventBytes: 512, batchEvents: 3 });
      if (p.ok) {
        for (const e of p.events) {
          expect(e.payload.length).toBeLessThanOrEqual(512);
          expect(JSON.parse(e.payload.toString('utf8'))).toEqual(e.event);
        }
      } else {
        expect([400, 413, 415]).toContain(p.status);
        expect(p.message.length).toBeGreaterThan(0);
      }
    }
  });
});
