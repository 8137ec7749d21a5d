// The traceparent <-> X-Amzn-Trace-Id rules, as tables.
import { describe, expect, it } from 'vitest';
import {
  callerTrace,
  formatTraceparent,
  formatXrayHeader,
  parseTraceparent,
  parseXrayHeader,
  traceIdOfXrayRoot,
  xrayHeaderOfTraceparent,
  xrayRoot,
} from '../../src/tracing/trace-context.js';

const T = '5759e988bd862e3fe1be46a994272793';
const S = '53995c3f42cd8ad8';

describe('parseTraceparent', () => {
  it.each([
    [`00-${T}-${S}-01`, { traceId: T, spanId: S, sampled: true }],
    [`00-${T}-${S}-00`, { traceId: T, spanId: S, sampled: false }],
    [`00-${T}-${S}-03`, { traceId: T, spanId: S, sampled: true }],
    [` 00-${T}-${S}-01 `, { traceId: T, spanId: S, sampled: true }],
    // A later version is read by its first four fields, extra fields ignored.
    [`01-${T}-${S}-01-future`, { traceId: T, spanId: S, sampled: true }],
  ])('reads %j', (header, want) => {
    expect(parseTraceparent(header)).toEqual(want);
  });

  it.each([
    [undefined],
    [''],
    ['garbage'],
    [`ff-${T}-${S}-01`],
    [`00-${'0'.repeat(32)}-${S}-01`],
    [`00-${T}-${'0'.repeat(16)}-01`],
    [`00-${T.toUpperCase()}-${S}-01`],
    [`00-${T}-${S}-01-extra`],
    [`00-${T.slice(1)}-${S}-01`],
    [`00-${T}-${S}`],
  ])('refuses %j', (header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('formats what it reads', () => {
    expect(formatTraceparent({ traceId: T, spanId: S, sampled: true })).toBe(`00-${T}-${S}-01`);
    expect(formatTraceparent({ traceId: T, spanId: S, sampled: false })).toBe(`00-${T}-${S}-00`);
  });
});

describe('X-Ray Root <-> W3C trace id', () => {
  it.each([
    [T, '1-5759e988-bd862e3fe1be46a994272793'],
    ['00000001000000000000000000000002', '1-00000001-000000000000000000000002'],
  ])('%s is Root=%s and back', (traceId, root) => {
    expect(xrayRoot(traceId)).toBe(root);
    expect(traceIdOfXrayRoot(root)).toBe(traceId);
  });

  it.each([['1-5759e988-bd862e3fe1be46a99427279'], ['2-5759e988-bd862e3fe1be46a994272793'], ['1-00000000-000000000000000000000000'], ['1-5759e98g-bd862e3fe1be46a994272793']])(
    'refuses Root=%s',
    (root) => expect(traceIdOfXrayRoot(root)).toBeUndefined(),
  );

  it('lower-cases an upper-case Root', () => {
    expect(traceIdOfXrayRoot('1-5759E988-BD862E3FE1BE46A994272793')).toBe(T);
  });
});

describe('parseXrayHeader / formatXrayHeader', () => {
  it.each([
    [`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${S};Sampled=1`, { traceId: T, parentId: S, sampled: true }],
    [`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${S};Sampled=0`, { traceId: T, parentId: S, sampled: false }],
    ['Root=1-5759e988-bd862e3fe1be46a994272793', { traceId: T }],
    ['Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?', { traceId: T }],
    [`Sampled=1; Parent=${S}; Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:0`, { traceId: T, parentId: S, sampled: true }],
    ['Root=1-5759e988-bd862e3fe1be46a994272793;Parent=nothex', { traceId: T }],
  ])('reads %j', (header, want) => {
    expect(parseXrayHeader(header)).toEqual(want);
  });

  it.each([[undefined], [''], ['Parent=53995c3f42cd8ad8;Sampled=1'], ['Root=abc'], ['Self=1-5759e988-bd862e3fe1be46a994272793']])('refuses %j', (header) => {
    expect(parseXrayHeader(header)).toBeUndefined();
  });

  it('names a span as Lambda hands it to runtimes, and derives it from a traceparent', () => {
    expect(formatXrayHeader({ traceId: T, spanId: S, sampled: true })).toBe(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${S};Sampled=1`);
    expect(xrayHeaderOfTraceparent(`00-${T}-${S}-00`)).toBe(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${S};Sampled=0`);
    expect(xrayHeaderOfTraceparent('nonsense')).toBeUndefined();
    expect(xrayHeaderOfTraceparent(undefined)).toBeUndefined();
  });
});

describe('callerTrace', () => {
  const other = 'aaaaaaaabbbbbbbbccccccccdddddddd';
  it.each([
    ['a traceparent', `00-${T}-${S}-01`, undefined, { parent: { traceId: T, spanId: S, sampled: true } }],
    ['a traceparent over an X-Amzn-Trace-Id', `00-${T}-${S}-01`, `Root=${xrayRoot(other)};Parent=${S};Sampled=1`, { parent: { traceId: T, spanId: S, sampled: true } }],
    ['an X-Amzn-Trace-Id with its Parent', undefined, `Root=${xrayRoot(T)};Parent=${S};Sampled=1`, { parent: { traceId: T, spanId: S, sampled: true } }],
    ['an X-Amzn-Trace-Id with Sampled=0', undefined, `Root=${xrayRoot(T)};Parent=${S};Sampled=0`, { parent: { traceId: T, spanId: S, sampled: false } }],
    ['an X-Amzn-Trace-Id with no sampling decision', undefined, `Root=${xrayRoot(T)};Parent=${S}`, { parent: { traceId: T, spanId: S, sampled: true } }],
    ['an X-Amzn-Trace-Id with a Root alone', undefined, `Root=${xrayRoot(T)}`, { traceId: T }],
    ['an invalid traceparent and a valid X-Amzn-Trace-Id', 'junk', `Root=${xrayRoot(T)}`, { traceId: T }],
    ['nothing', undefined, undefined, {}],
    ['nothing valid', 'junk', 'junk', {}],
  ])('continues %s', (_what, traceparent, xray, want) => {
    expect(callerTrace(traceparent, xray)).toEqual(want);
  });
});
