import { describe, expect, it } from 'vitest';
import { FunctionSchema, type AliasInput } from '../../src/api/function.js';
import { arnHome, decodeClientContext, foreignArnError, notUtf8, parseFunctionName, parseInvocationType, parseLogType, qualifiedArn, qualifierResolves, resolveQualifier } from '../../src/gateway/invoke-request.js';
import { LambdaError } from '../../src/gateway/lambda-errors.js';

describe('Invoke API request parsing', () => {
  it.each([
    ['hello', { name: 'hello' }],
    ['hello:$LATEST', { name: 'hello', qualifier: '$LATEST' }],
    ['hello:7', { name: 'hello', qualifier: '7' }],
    ['hello:live', { name: 'hello', qualifier: 'live' }],
    ['arn:aws:lambda:us-east-1:000000000000:function:hello:3', { name: 'hello', qualifier: '3', partition: 'aws', region: 'us-east-1', accountId: '000000000000' }],
    ['arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST', { name: 'hello', qualifier: '$LATEST', partition: 'aws', region: 'us-east-1', accountId: '000000000000' }],
    ['000000000000:function:hello:live', { name: 'hello', qualifier: 'live', accountId: '000000000000' }],
    ['function:hello:2', { name: 'hello', qualifier: '2' }],
    ['arn:aws:lambda:eu-west-1:123456789012:function:hello', { name: 'hello', partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }],
    ['arn:aws:lambda:eu-west-1:123456789012:function:hello:prod', { name: 'hello', qualifier: 'prod', partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }],
    ['123456789012:function:hello', { name: 'hello', accountId: '123456789012' }],
    ['function:hello', { name: 'hello' }],
  ])('reads the function name %s', (raw, expected) => {
    expect(parseFunctionName(raw)).toEqual(expected);
  });

  it.each(['', 'a:b:c', 'has space', 'x'.repeat(65), 'hello:live:2'])('rejects the function name %j', (raw) => {
    expect(() => parseFunctionName(raw)).toThrow(LambdaError);
  });

  it('requires qualifiers from the name and the query to agree', () => {
    expect(resolveQualifier('$LATEST', undefined)).toBe('$LATEST');
    expect(resolveQualifier(undefined, 'v1')).toBe('v1');
    expect(() => resolveQualifier('v1', 'v2')).toThrow(/does not match/);
  });

  it.each<[string | undefined, string | undefined, string | undefined | RegExp]>([
    [undefined, undefined, undefined],
    ['live', undefined, 'live'],
    [undefined, '2', '2'],
    ['2', '2', '2'],
    ['live', 'live', 'live'],
    [undefined, '$LATEST', '$LATEST'],
    ['live', '2', /does not match/],
    ['$LATEST', '1', /does not match/],
    [undefined, '', /Invalid qualifier/],
    ['', undefined, /Invalid qualifier/],
    [undefined, 'a b', /Invalid qualifier/],
    [undefined, '$latest', /Invalid qualifier/],
    [undefined, 'x'.repeat(129), /Invalid qualifier/],
  ])('qualifier from the name %j and the query %j → %s', (fromName, fromQuery, expected) => {
    if (expected instanceof RegExp) expect(() => resolveQualifier(fromName, fromQuery)).toThrow(expected);
    else expect(resolveQualifier(fromName, fromQuery)).toBe(expected);
  });

  it.each<[string | undefined, string]>([
    [undefined, 'arn:aws:lambda:us-east-1:000000000000:function:f'],
    ['$LATEST', 'arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST'],
    ['3', 'arn:aws:lambda:us-east-1:000000000000:function:f:3'],
    ['live', 'arn:aws:lambda:us-east-1:000000000000:function:f:live'],
  ])('names the ARN called with qualifier %j as %s', (qualifier, arn) => {
    expect(qualifiedArn('arn:aws:lambda:us-east-1:000000000000:function:f', qualifier)).toBe(arn);
  });

  it('reads the invocation and log types with Lambda defaults', () => {
    expect(parseInvocationType(undefined)).toBe('RequestResponse');
    expect(parseInvocationType('Event')).toBe('Event');
    expect(parseInvocationType('DryRun')).toBe('DryRun');
    expect(() => parseInvocationType('Later')).toThrow(/invocationType/);
    expect(parseLogType(undefined)).toBe('None');
    expect(parseLogType('Tail')).toBe('Tail');
    expect(() => parseLogType('All')).toThrow(/logType/);
  });

  it('decodes the base64 client context to its JSON text', () => {
    const ctx = JSON.stringify({ custom: { a: 1 } });
    expect(decodeClientContext(Buffer.from(ctx).toString('base64'))).toBe(ctx);
    expect(decodeClientContext(undefined)).toBeUndefined();
    expect(() => decodeClientContext(Buffer.from('not json').toString('base64'))).toThrow(/Client context/);
  });
});

describe('whether a queued or dry-run call\'s qualifier resolves', () => {
  const fn = (aliases: AliasInput[]) =>
    FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.js': '' } }, aliases } });
  const published = new Set(['1', '2']);
  it.each<[string, AliasInput[], string | undefined, string | false]>([
    ['no qualifier', [], undefined, '$LATEST'],
    ['$LATEST', [], '$LATEST', '$LATEST'],
    ['a published version', [], '2', '2'],
    ['a version not published', [], '3', false],
    ['an unknown alias', [{ name: 'live', version: '1' }], 'beta', false],
    ['an alias', [{ name: 'live', version: '1' }], 'live', '1'],
    ['an alias to $LATEST', [{ name: 'dev', version: '$LATEST' }], 'dev', '$LATEST'],
    ['an alias to a missing version', [{ name: 'live', version: '9' }], 'live', false],
    ['a weighted alias', [{ name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 } }], 'live', '2'],
    // Some calls can run: the event is accepted, as a sync call through it would run most of the time.
    ['a weighted alias whose extra version is gone', [{ name: 'live', version: '1', additionalVersionWeights: { '9': 0.1 } }], 'live', '1'],
    ['a weighted alias whose main version is gone', [{ name: 'live', version: '9', additionalVersionWeights: { '2': 0.1 } }], 'live', '2'],
    ['a weighted alias with both versions gone', [{ name: 'live', version: '8', additionalVersionWeights: { '9': 0.5 } }], 'live', false],
    ['a weight of 0 to a missing version', [{ name: 'live', version: '1', additionalVersionWeights: { '9': 0 } }], 'live', '1'],
  ])('%s', (_what, aliases, qualifier, expected) => {
    const t = qualifierResolves(fn(aliases), published, qualifier);
    expect(t.ok ? t.version : false).toBe(expected);
  });
});

describe('ARNs of another region or account', () => {
  const home = arnHome('arn:aws:lambda:us-east-1:000000000000:function:_');

  it('reads the home of the gateway\'s own ARNs', () => {
    expect(home).toEqual({ partition: 'aws', region: 'us-east-1', accountId: '000000000000' });
  });

  it.each<[string, number | undefined, string | undefined]>([
    ['echo', undefined, undefined],
    ['echo:$LATEST', undefined, undefined],
    ['function:echo', undefined, undefined],
    ['000000000000:function:echo', undefined, undefined],
    ['arn:aws:lambda:us-east-1:000000000000:function:echo', undefined, undefined],
    ['arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST', undefined, undefined],
    ['arn:aws:lambda:eu-west-1:000000000000:function:echo', 404, 'ResourceNotFoundException'],
    ['arn:aws:lambda::000000000000:function:echo', 404, 'ResourceNotFoundException'],
    ['arn:aws-cn:lambda:us-east-1:000000000000:function:echo', 404, 'ResourceNotFoundException'],
    ['arn:aws:lambda:eu-west-1:123456789012:function:echo', 404, 'ResourceNotFoundException'],
    ['arn:aws:lambda:us-east-1:123456789012:function:echo', 403, 'AccessDeniedException'],
    ['123456789012:function:echo', 403, 'AccessDeniedException'],
  ])('%s → %s %s', (raw, status, type) => {
    const err = foreignArnError(parseFunctionName(raw), home, raw, 'ops');
    expect(err === undefined ? [undefined, undefined] : [err.status, err.type]).toEqual([status, type]);
  });

  it('says what Lambda says', () => {
    expect(foreignArnError(parseFunctionName('arn:aws:lambda:eu-west-1:000000000000:function:echo'), home, 'x', undefined)?.message).toBe("Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
    expect(foreignArnError(parseFunctionName('1:function:echo'.replace('1', '123456789012')), home, '123456789012:function:echo', 'ops')?.message).toBe(
      'Caller ops is not authorized to perform: lambda:InvokeFunction on resource: 123456789012:function:echo because no resource-based policy allows the lambda:InvokeFunction action',
    );
  });
});

describe('bodies that are not UTF-8', () => {
  const b = (...bytes: number[]) => Buffer.from(bytes);
  it.each<[string, Buffer, string | undefined]>([
    ['empty', b(), undefined],
    ['ASCII JSON', Buffer.from('{"a":1}'), undefined],
    ['two-, three- and four-byte characters', Buffer.from('{"a":"é€😀"}'), undefined],
    ['a lone 0xff', b(0x22, 0xff, 0x22), 'Invalid UTF-8 start byte 0xff at byte 1'],
    ['a continuation byte first', b(0x80), 'Invalid UTF-8 start byte 0x80 at byte 0'],
    ['an overlong two-byte form', b(0xc0, 0xaf), 'Invalid UTF-8 start byte 0xc0 at byte 0'],
    ['an overlong three-byte form', b(0xe0, 0x80, 0xaf), 'Invalid UTF-8 middle byte 0x80 at byte 1'],
    ['a UTF-16 surrogate', b(0xed, 0xa0, 0x80), 'Invalid UTF-8 middle byte 0xa0 at byte 1'],
    ['past U+10FFFF', b(0xf4, 0x90, 0x80, 0x80), 'Invalid UTF-8 middle byte 0x90 at byte 1'],
    ['a character cut short', b(0x41, 0xe2, 0x82), 'Invalid UTF-8: the body ends inside a character at byte 1'],
    ['Latin-1 text', Buffer.from('{"a":"caf\u00e9"}', 'latin1'), 'Invalid UTF-8 middle byte 0x22 at byte 10'],
  ])('%s', (_what, body, problem) => {
    expect(notUtf8(body)).toBe(problem);
  });
});
