// The decisions a RESPONSE_STREAM function URL makes before it answers: the
// http-integration prelude split from the body (bounded), the headers it may
// pass on, and which invoke mode the URL a call came through has. Pure.
import { describe, expect, it } from 'vitest';
import { FunctionSchema, type FunctionSpecInput } from '../../src/api/function.js';
import { streamHeaders, urlInvokeMode } from '../../src/gateway/function-url-stream.js';
import { MAX_PRELUDE_BYTES, splitPrelude, type PreludeSplit } from '../../src/streaming/http-integration.js';

const NULS = Buffer.alloc(8);
const b = (s: string) => Buffer.from(s);
const framed = (prelude: string, body: string) => Buffer.concat([b(prelude), NULS, b(body)]);

describe('splitPrelude', () => {
  const cases: Array<{ name: string; buf: Buffer; final?: boolean; max?: number; want: PreludeSplit | { kind: 'invalid' } }> = [
    { name: 'status, headers and cookies, then the body', buf: framed('{"statusCode":201,"headers":{"Content-Type":"text/event-stream","X-A":1},"cookies":["a=1","b=2"]}', 'data: 1\n\n'), want: { kind: 'found', prelude: { statusCode: 201, headers: { 'content-type': 'text/event-stream', 'x-a': '1' }, cookies: ['a=1', 'b=2'] }, rest: b('data: 1\n\n') } },
    { name: 'an empty prelude object is a 200', buf: framed('{}', 'x'), want: { kind: 'found', prelude: { statusCode: 200, headers: {}, cookies: [] }, rest: b('x') } },
    { name: 'the delimiter with nothing after it yet', buf: framed('{"statusCode":404}', ''), want: { kind: 'found', prelude: { statusCode: 404, headers: {}, cookies: [] }, rest: b('') } },
    { name: 'NULs in the body after the delimiter stay in the body', buf: Buffer.concat([b('{}'), NULS, NULS, b('z')]), want: { kind: 'found', prelude: { statusCode: 200, headers: {}, cookies: [] }, rest: Buffer.concat([NULS, b('z')]) } },
    { name: 'a prelude still arriving', buf: b('{"statusCode":2'), want: { kind: 'more' } },
    { name: 'half a delimiter', buf: Buffer.concat([b('{}'), Buffer.alloc(4)]), want: { kind: 'more' } },
    { name: 'a stream that ended after a bare prelude (no write, no delimiter)', buf: b('{"statusCode":204}'), final: true, want: { kind: 'found', prelude: { statusCode: 204, headers: {}, cookies: [] }, rest: b('') } },
    { name: 'a stream that ended with nothing at all', buf: b(''), final: true, want: { kind: 'found', prelude: { statusCode: 200, headers: {}, cookies: [] }, rest: b('') } },
    { name: 'a stream that ended with no prelude, only bytes', buf: b('hello'), final: true, want: { kind: 'invalid' } },
    { name: 'a prelude that is not JSON', buf: framed('not json', 'x'), want: { kind: 'invalid' } },
    { name: 'a prelude that is a JSON array', buf: framed('[1]', 'x'), want: { kind: 'invalid' } },
    { name: 'a statusCode out of range', buf: framed('{"statusCode":99}', 'x'), want: { kind: 'invalid' } },
    { name: 'a statusCode that is not a number', buf: framed('{"statusCode":"ok"}', 'x'), want: { kind: 'invalid' } },
    { name: 'headers that are not an object', buf: framed('{"headers":[]}', 'x'), want: { kind: 'invalid' } },
    { name: 'cookies that are not a list', buf: framed('{"cookies":"a=1"}', 'x'), want: { kind: 'invalid' } },
    { name: 'no delimiter within the bound', buf: b(`{"x":"${'a'.repeat(100)}"`), max: 64, want: { kind: 'invalid' } },
    { name: 'a delimiter past the bound', buf: framed(`{"x":"${'a'.repeat(100)}"}`, ''), max: 64, want: { kind: 'invalid' } },
    { name: 'a prelude exactly at the bound', buf: framed(`{"x":"${'a'.repeat(64 - 8)}"}`, 'y'), max: 64, want: { kind: 'found', prelude: { statusCode: 200, headers: {}, cookies: [] }, rest: b('y') } },
  ];
  it.each(cases)('$name', ({ buf, final, max, want }) => {
    const got = splitPrelude(buf, final ?? false, max ?? MAX_PRELUDE_BYTES);
    if (want.kind === 'invalid') expect(got.kind).toBe('invalid');
    else expect(got).toEqual(want);
  });

  it('holds at most the bound (plus a delimiter) before refusing', () => {
    expect(splitPrelude(Buffer.alloc(MAX_PRELUDE_BYTES + 7, 0x20), false).kind).toBe('more');
    expect(splitPrelude(Buffer.alloc(MAX_PRELUDE_BYTES + 8, 0x20), false).kind).toBe('invalid');
  });
});

describe('streamHeaders', () => {
  it.each<{ name: string; headers: Record<string, string>; want: Record<string, string> }>([
    { name: 'a content type is kept', headers: { 'content-type': 'text/event-stream' }, want: { 'content-type': 'text/event-stream' } },
    { name: 'none given: octet-stream', headers: { 'x-a': '1' }, want: { 'x-a': '1', 'content-type': 'application/octet-stream' } },
    {
      name: 'framing and connection headers are the gateway\'s',
      headers: { 'content-length': '5', 'transfer-encoding': 'gzip', connection: 'close', 'keep-alive': '1', upgrade: 'h2c', trailer: 'x', 'cache-control': 'no-cache' },
      want: { 'cache-control': 'no-cache', 'content-type': 'application/octet-stream' },
    },
  ])('$name', ({ headers, want }) => {
    expect(streamHeaders({ statusCode: 200, headers, cookies: [] })).toEqual(want);
  });
});

describe('urlInvokeMode', () => {
  const fn = (spec: Partial<FunctionSpecInput>) =>
    FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': '' } }, ...spec } });
  const streaming = fn({
    url: { invokeMode: 'RESPONSE_STREAM' },
    aliases: [
      { name: 'live', version: '$LATEST', url: { invokeMode: 'BUFFERED' } },
      { name: 'sse', version: '$LATEST', url: { invokeMode: 'RESPONSE_STREAM' } },
      { name: 'bare', version: '$LATEST' },
    ],
  });
  it.each([
    { name: 'the function URL set to stream', f: streaming, q: undefined, want: 'RESPONSE_STREAM' },
    { name: 'NAME:$LATEST is the function URL', f: streaming, q: '$LATEST', want: 'RESPONSE_STREAM' },
    { name: 'an alias URL set to buffer, though the function streams', f: streaming, q: 'live', want: 'BUFFERED' },
    { name: 'an alias URL set to stream', f: streaming, q: 'sse', want: 'RESPONSE_STREAM' },
    { name: 'an alias without URL settings buffers', f: streaming, q: 'bare', want: 'BUFFERED' },
    { name: 'a function without URL settings buffers', f: fn({}), q: undefined, want: 'BUFFERED' },
    { name: 'url given without invokeMode buffers', f: fn({ url: {} }), q: undefined, want: 'BUFFERED' },
  ])('$name', ({ f, q, want }) => {
    expect(urlInvokeMode(f, q)).toBe(want);
  });
});
