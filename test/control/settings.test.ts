// Tags, asynchronous invocation settings, provisioned concurrency, account
// settings and function URL settings: Lambda's shapes over Hearth's spec.
import { describe, expect, it } from 'vitest';
import { AliasSchema, FunctionSpecSchema, type FunctionSpecInput } from '../../src/api/function.js';
import { accountSettings } from '../../src/control/account-settings.js';
import { applyEventInvokeConfig, eventInvokeConfig, hasEventInvokeConfig, readEventInvokeConfig, withoutEventInvokeConfig } from '../../src/control/event-invoke-config.js';
import { checkUrlConfig, functionUrlConfig, urlInvokeMode, urlQualifier, withUrlInvokeMode } from '../../src/control/function-url-config.js';
import { instancesFor, provisionedConfig, provisionedQualifier, type UnitReadiness } from '../../src/control/provisioned.js';
import { checkTags, withoutTags, withTags } from '../../src/control/tags.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function';
const own = (arn: string) => (arn.startsWith(`${ARN}:`) ? arn.slice(ARN.length + 1) : undefined);
const base: FunctionSpecInput = { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': 'x' } } };

describe('tags', () => {
  it('TagResource merges, UntagResource removes; the last tag removed leaves no tags field', () => {
    const tagged = withTags({ ...base, tags: { a: '1' } }, { b: '2', a: '3' });
    expect(tagged.tags).toEqual({ a: '3', b: '2' });
    expect(withoutTags(tagged, ['a']).tags).toEqual({ b: '2' });
    expect(withoutTags(tagged, ['a', 'b'])).toEqual(base);
  });
  it.each<Record<string, string>>([{ '': 'x' }, { ['k'.repeat(129)]: 'x' }, { k: 'v'.repeat(257) }, { 'aws:cost': 'x' }])('%j is refused', (tags) => {
    expect(() => checkTags(tags)).toThrowError(expect.objectContaining({ status: 400 }));
  });
  it('more than 50 tags are refused', () => {
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(() => withTags(base, many)).toThrowError(/at most 50/);
  });
});

describe('event invoke config', () => {
  const fields = readEventInvokeConfig(
    { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 600, DestinationConfig: { OnFailure: { Destination: `${ARN}:on-failure` } } },
    own,
  );

  it('Put replaces (Hearth\'s dead-letter setting and nothing else kept); Update merges', () => {
    const spec: FunctionSpecInput = { ...base, async: { maxRetries: 1, onSuccess: { url: 'http://x.test/' }, deadLetterQueue: { enabled: false } } };
    expect(applyEventInvokeConfig(spec, fields, 'replace').async).toEqual({ deadLetterQueue: { enabled: false }, maxRetries: 0, maxEventAgeSeconds: 600, onFailure: { function: 'on-failure' } });
    expect(applyEventInvokeConfig(spec, fields, 'merge').async).toEqual({ maxRetries: 0, maxEventAgeSeconds: 600, onSuccess: { url: 'http://x.test/' }, onFailure: { function: 'on-failure' }, deadLetterQueue: { enabled: false } });
    expect(withoutEventInvokeConfig(spec).async).toEqual({ deadLetterQueue: { enabled: false } });
    expect(withoutEventInvokeConfig(base)).toEqual(base);
  });

  it('an empty Destination removes it', () => {
    const spec: FunctionSpecInput = { ...base, async: { onFailure: { function: 'x' } } };
    expect(applyEventInvokeConfig(spec, readEventInvokeConfig({ DestinationConfig: { OnFailure: { Destination: '' } } }, own), 'merge')).toEqual(base);
  });

  it('shown as Lambda\'s FunctionEventInvokeConfig; the defaults are "no config"', () => {
    const parsed = FunctionSpecSchema.parse(applyEventInvokeConfig(base, fields, 'replace'));
    expect(hasEventInvokeConfig(parsed.async)).toBe(true);
    expect(hasEventInvokeConfig(FunctionSpecSchema.parse(base).async)).toBe(false);
    expect(eventInvokeConfig(`${ARN}:f`, parsed.async, '2024-05-01T12:00:00Z', (n) => `${ARN}:${n}`)).toEqual({
      LastModified: 1714564800,
      FunctionArn: `${ARN}:f:$LATEST`,
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 600,
      DestinationConfig: { OnSuccess: {}, OnFailure: { Destination: `${ARN}:on-failure` } },
    });
  });

  it.each([
    { what: 'an SQS queue', body: { DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:local:000000000000:q' } } } },
    { what: 'three retries', body: { MaximumRetryAttempts: 3 } },
    { what: 'an event age under a minute', body: { MaximumEventAgeInSeconds: 59 } },
  ])('$what is refused (400)', ({ body }) => {
    expect(() => readEventInvokeConfig(body, own)).toThrowError(expect.objectContaining({ status: 400, type: 'InvalidParameterValueException' }));
  });
});

describe('provisioned concurrency', () => {
  it.each([
    [undefined, false],
    ['$LATEST', false],
    ['3', false],
    ['live', true],
  ])('qualifier %s accepted: %s', (q, ok) => {
    if (ok) expect(provisionedQualifier(q)).toBe(q);
    else expect(() => provisionedQualifier(q)).toThrowError(expect.objectContaining({ status: 400 }));
  });

  it('executions are asked of instances running `concurrency` calls each', () => {
    expect([instancesFor(1, 1), instancesFor(5, 2), instancesFor(4, 4)]).toEqual([1, 3, 1]);
  });

  const alias = AliasSchema.parse({ name: 'live', version: '1', additionalVersionWeights: { '2': 0.5 }, minInstances: 4 });
  const units = (ready: Record<string, number>): UnitReadiness => ({ readyInstances: (k) => ready[k] ?? 0, concurrency: () => 2, maxInstances: () => 10 });

  it.each<{ ready: Record<string, number>; status: string; allocated: number }>([
    { ready: {}, status: 'IN_PROGRESS', allocated: 0 },
    { ready: { 'f:1': 2 }, status: 'IN_PROGRESS', allocated: 4 },
    { ready: { 'f:1': 2, 'f:2': 1 }, status: 'IN_PROGRESS', allocated: 6 },
    { ready: { 'f:1': 2, 'f:2': 2 }, status: 'READY', allocated: 8 },
    { ready: { 'f:1': 5, 'f:2': 5 }, status: 'READY', allocated: 8 },
  ])('ready $ready: $status, $allocated allocated of 8', ({ ready, status, allocated }) => {
    const c = provisionedConfig('f', { aliases: [alias] }, alias, units(ready), undefined);
    expect(c).toMatchObject({ RequestedProvisionedConcurrentExecutions: 8, AllocatedProvisionedConcurrentExecutions: allocated, AvailableProvisionedConcurrentExecutions: allocated, Status: status });
  });

  it('a unit capped by maxInstances is READY once it has its cap', () => {
    const one = AliasSchema.parse({ name: 'live', version: '1', minInstances: 4 });
    const c = provisionedConfig('f', { aliases: [one] }, one, { readyInstances: () => 2, concurrency: () => 1, maxInstances: () => 2 }, undefined);
    expect(c.Status).toBe('READY');
  });
});

describe('account settings', () => {
  it('Hearth\'s package limits; concurrency only when the gateway has a cap, less what is reserved', () => {
    const specs = [FunctionSpecSchema.parse({ ...base, reservedConcurrency: 10 }), FunctionSpecSchema.parse(base)];
    expect(accountSettings(specs, 100)).toEqual({
      AccountLimit: { CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800, ConcurrentExecutions: 100, UnreservedConcurrentExecutions: 90 },
      AccountUsage: { TotalCodeSize: 20, FunctionCount: 2 },
    });
    expect(accountSettings(specs, undefined).AccountLimit).toEqual({ CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800 });
  });
});

describe('function URL config', () => {
  it('shows the URL Hearth serves', () => {
    expect(functionUrlConfig('http://127.0.0.1:9000/fn/f/', `${ARN}:f`, 'NONE', '2024-05-01T12:00:00Z')).toEqual({
      FunctionUrl: 'http://127.0.0.1:9000/fn/f/',
      FunctionArn: `${ARN}:f`,
      AuthType: 'NONE',
      CreationTime: '2024-05-01T12:00:00.000+0000',
      LastModifiedTime: '2024-05-01T12:00:00.000+0000',
      InvokeMode: 'BUFFERED',
    });
  });
  it('shows the invoke mode it is given', () => {
    expect(functionUrlConfig('http://127.0.0.1:9000/fn/f/', `${ARN}:f`, 'NONE', undefined, 'RESPONSE_STREAM').InvokeMode).toBe('RESPONSE_STREAM');
    expect(urlInvokeMode(undefined)).toBe('BUFFERED');
    expect(urlInvokeMode({ invokeMode: 'RESPONSE_STREAM' })).toBe('RESPONSE_STREAM');
  });
  it.each([
    { body: { AuthType: 'NONE' }, auth: 'NONE' as const, create: { invokeMode: 'BUFFERED' }, update: {} },
    { body: { AuthType: 'NONE', InvokeMode: 'BUFFERED', Cors: { AllowOrigins: [] } }, auth: 'NONE' as const, create: { invokeMode: 'BUFFERED' }, update: { invokeMode: 'BUFFERED' } },
    { body: { AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }, auth: 'NONE' as const, create: { invokeMode: 'RESPONSE_STREAM' }, update: { invokeMode: 'RESPONSE_STREAM' } },
    { body: { InvokeMode: 'RESPONSE_STREAM' }, auth: 'AWS_IAM' as const, create: 400, update: { invokeMode: 'RESPONSE_STREAM' } },
    { body: {}, auth: 'NONE' as const, create: 400, update: {} },
    { body: { AuthType: 'AWS_IAM' }, auth: 'NONE' as const, create: 400, update: 400 },
    { body: { AuthType: 'NONE' }, auth: 'AWS_IAM' as const, create: 400, update: 400 },
    { body: { AuthType: 'NONE', InvokeMode: 'STREAMING' }, auth: 'NONE' as const, create: 400, update: 400 },
    { body: { InvokeMode: 7 }, auth: 'NONE' as const, create: 400, update: 400 },
    { body: { AuthType: 'NONE', Cors: { AllowOrigins: ['*'] } }, auth: 'NONE' as const, create: 400, update: 400 },
  ])('$body on a gateway whose URLs are $auth: Create $create, Update $update', ({ body, auth, create, update }) => {
    for (const [isCreate, expected] of [[true, create], [false, update]] as const) {
      if (expected === 400) expect(() => checkUrlConfig(body, auth, isCreate)).toThrowError(expect.objectContaining({ status: 400 }));
      else expect(checkUrlConfig(body, auth, isCreate)).toEqual(expected);
    }
  });
  it('writes the function\'s own URL mode into spec.url, keeping the rest of the spec', () => {
    expect(withUrlInvokeMode(base, 'RESPONSE_STREAM')).toEqual({ ...base, url: { invokeMode: 'RESPONSE_STREAM' } });
    expect(withUrlInvokeMode({ ...base, url: { invokeMode: 'RESPONSE_STREAM' } }, 'BUFFERED')).toEqual({ ...base, url: { invokeMode: 'BUFFERED' } });
    expect(FunctionSpecSchema.parse(withUrlInvokeMode(base, 'RESPONSE_STREAM')).url).toEqual({ invokeMode: 'RESPONSE_STREAM' });
  });
  it('a version number has no URL', () => {
    expect(urlQualifier('live')).toBe('live');
    expect(() => urlQualifier('3')).toThrowError(expect.objectContaining({ status: 400 }));
  });
});
