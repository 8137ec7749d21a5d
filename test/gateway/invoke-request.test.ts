import { describe, expect, it } from 'vitest';
import { decodeClientContext, parseFunctionName, parseInvocationType, parseLogType, resolveQualifier } from '../../src/gateway/invoke-request.js';
import { LambdaError } from '../../src/gateway/lambda-errors.js';

describe('Invoke API request parsing', () => {
  it.each([
    ['hello', { name: 'hello' }],
    ['hello:$LATEST', { name: 'hello', qualifier: '$LATEST' }],
    ['arn:aws:lambda:us-east-1:123456789012:function:hello', { name: 'hello' }],
    ['arn:aws:lambda:us-east-1:123456789012:function:hello:prod', { name: 'hello', qualifier: 'prod' }],
    ['123456789012:function:hello', { name: 'hello' }],
  ])('reads the function name %s', (raw, expected) => {
    expect(parseFunctionName(raw)).toEqual(expected);
  });

  it.each(['', 'a:b:c', 'has space', 'x'.repeat(65)])('rejects the function name %j', (raw) => {
    expect(() => parseFunctionName(raw)).toThrow(LambdaError);
  });

  it('requires qualifiers from the name and the query to agree', () => {
    expect(resolveQualifier('$LATEST', undefined)).toBe('$LATEST');
    expect(resolveQualifier(undefined, 'v1')).toBe('v1');
    expect(() => resolveQualifier('v1', 'v2')).toThrow(/does not match/);
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
