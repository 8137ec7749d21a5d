// AWS's event-stream framing as InvokeWithResponseStream sends it: the
// encoder's bytes are exactly what AWS's own codec (@smithy's, which the
// JavaScript SDK decodes with) produces for the same message, and the test
// decoder refuses what AWS's would.
import { EventStreamCodec } from '@smithy/core/event-streams';
import { describe, expect, it } from 'vitest';
import {
  decodeMessages,
  encodeEvent,
  encodeMessage,
  EventStreamError,
  invokeCompleteEvent,
  MAX_CHUNK_PAYLOAD_BYTES,
  payloadChunks,
} from '../../src/streaming/event-stream.js';

const smithy = new EventStreamCodec(
  (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8'),
  (text: string) => new Uint8Array(Buffer.from(text, 'utf8')),
);

function smithyEncode(headers: Record<string, string>, payload: Buffer): Buffer {
  const tagged = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { type: 'string' as const, value: v }]));
  return Buffer.from(smithy.encode({ headers: tagged, body: payload }));
}

describe('event-stream encoder', () => {
  const cases: Array<{ name: string; headers: Record<string, string>; payload: Buffer }> = [
    { name: 'no headers, no payload', headers: {}, payload: Buffer.alloc(0) },
    { name: 'a PayloadChunk', headers: { ':event-type': 'PayloadChunk', ':content-type': 'application/octet-stream', ':message-type': 'event' }, payload: Buffer.from('hello') },
    { name: 'binary payload with NULs and high bytes', headers: { ':event-type': 'PayloadChunk' }, payload: Buffer.from([0, 0xff, 0, 0x80, 10, 13]) },
    { name: 'an InvokeComplete', headers: { ':event-type': 'InvokeComplete', ':content-type': 'application/json', ':message-type': 'event' }, payload: Buffer.from('{"ErrorCode":"Sandbox.Timedout"}') },
    { name: 'a UTF-8 header value', headers: { 'x-note': 'héllo ✓' }, payload: Buffer.from('ü') },
    { name: '1 MiB payload', headers: { ':event-type': 'PayloadChunk' }, payload: Buffer.alloc(1024 * 1024, 7) },
  ];

  it.each(cases)('writes the same bytes as AWS\'s codec: $name', ({ headers, payload }) => {
    expect(encodeMessage(headers, payload).equals(smithyEncode(headers, payload))).toBe(true);
  });

  it.each(cases)('AWS\'s codec reads back what it wrote: $name', ({ headers, payload }) => {
    const msg = smithy.decode(encodeMessage(headers, payload));
    expect(Buffer.from(msg.body).equals(payload)).toBe(true);
    expect(Object.fromEntries(Object.entries(msg.headers).map(([k, v]) => [k, v.value]))).toEqual(headers);
  });

  it('an event carries :event-type, :content-type and :message-type event', () => {
    const [msg] = decodeMessages(encodeEvent('PayloadChunk', 'application/octet-stream', Buffer.from('x'))).messages;
    expect(msg?.headers).toEqual({ ':event-type': 'PayloadChunk', ':content-type': 'application/octet-stream', ':message-type': 'event' });
  });

  it('InvokeComplete leaves out the members it does not have', () => {
    const read = (c: Parameters<typeof invokeCompleteEvent>[0]) => JSON.parse(decodeMessages(invokeCompleteEvent(c)).messages[0]?.payload.toString() ?? 'null') as unknown;
    expect(read({})).toEqual({});
    expect(read({ ErrorCode: 'Error', ErrorDetails: 'boom' })).toEqual({ ErrorCode: 'Error', ErrorDetails: 'boom' });
    expect(read({ LogResult: 'bG9n' })).toEqual({ LogResult: 'bG9n' });
  });

  it('payload chunks: none for no bytes, one up to the cap, split above it', () => {
    expect(payloadChunks(Buffer.alloc(0))).toHaveLength(0);
    expect(payloadChunks(Buffer.alloc(6 * 1024 * 1024))).toHaveLength(1);
    const big = Buffer.alloc(MAX_CHUNK_PAYLOAD_BYTES + 5, 1);
    const frames = payloadChunks(big);
    expect(frames).toHaveLength(2);
    const back = Buffer.concat(frames.map((f) => decodeMessages(f).messages[0]?.payload ?? Buffer.alloc(0)));
    expect(back.equals(big)).toBe(true);
  });

  it('refuses header names and values the framing cannot carry', () => {
    expect(() => encodeMessage({ ['n'.repeat(256)]: 'v' }, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeMessage({ n: 'v'.repeat(65536) }, Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe('event-stream decoder', () => {
  it('reads messages AWS\'s codec wrote, one after another, and keeps a partial one for later', () => {
    const a = smithyEncode({ ':event-type': 'PayloadChunk' }, Buffer.from('one'));
    const b = smithyEncode({ ':event-type': 'InvokeComplete' }, Buffer.from('{}'));
    const all = Buffer.concat([a, b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const first = decodeMessages(all.subarray(0, cut));
      const second = decodeMessages(Buffer.concat([first.rest, all.subarray(cut)]));
      expect([...first.messages, ...second.messages].map((m) => m.payload.toString())).toEqual(['one', '{}']);
      expect(second.rest.length).toBe(0);
    }
  });

  it('reads every header type AWS\'s codec writes', () => {
    const bytes = Buffer.from(
      smithy.encode({
        headers: {
          t: { type: 'boolean', value: true },
          f: { type: 'boolean', value: false },
          b: { type: 'byte', value: -3 },
          s: { type: 'short', value: 300 },
          i: { type: 'integer', value: 70000 },
          bin: { type: 'binary', value: new Uint8Array([1, 2]) },
          str: { type: 'string', value: 'v' },
          ts: { type: 'timestamp', value: new Date(1_700_000_000_000) },
        },
        body: new Uint8Array(0),
      }),
    );
    const [msg] = decodeMessages(bytes).messages;
    expect(msg?.headers).toEqual({ t: true, f: false, b: -3, s: 300, i: 70000, bin: Buffer.from([1, 2]), str: 'v', ts: new Date(1_700_000_000_000) });
  });

  const good = encodeEvent('PayloadChunk', 'application/octet-stream', Buffer.from('payload'));
  const flip = (at: number) => {
    const b = Buffer.from(good);
    b[at] = (b[at] ?? 0) ^ 0xff;
    return b;
  };
  it.each([
    { name: 'a prelude byte', at: 5, error: /prelude CRC/ },
    { name: 'the prelude CRC', at: 9, error: /prelude CRC/ },
    { name: 'a header byte', at: 14, error: /message CRC/ },
    { name: 'a payload byte', at: good.length - 6, error: /message CRC/ },
    { name: 'the message CRC', at: good.length - 1, error: /message CRC/ },
  ])('refuses a message with a changed $name, as AWS\'s codec does', ({ at, error }) => {
    expect(() => decodeMessages(flip(at))).toThrow(EventStreamError);
    expect(() => decodeMessages(flip(at))).toThrow(error);
    expect(() => smithy.decode(flip(at))).toThrow();
  });
});
