import { describe, expect, it } from 'vitest';
import { buildDestinationRecord, decodePayload, defaultFunctionArn } from './records.js';

describe('destination records', () => {
  it('has the shape of Lambda\'s documented on-failure record', () => {
    const rec = buildDestinationRecord({
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      functionArn: 'arn:aws:lambda:us-east-2:123456789012:function:my-function',
      condition: 'RetriesExhausted',
      invokeCount: 3,
      requestPayload: Buffer.from('{"ORDER_IDS":["9e07af03-ce31-4ff3-xmpl-36dce652cb4f"]}'),
      response: { outcome: 'unhandled', payload: Buffer.from('{"errorMessage":"RequestId: e4b46cbf Process exited before completing request"}') },
      now: Date.UTC(2019, 10, 14, 18, 16, 5, 568),
    });
    expect(rec).toEqual({
      version: '1.0',
      timestamp: '2019-11-14T18:16:05.568Z',
      requestContext: {
        requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
        functionArn: 'arn:aws:lambda:us-east-2:123456789012:function:my-function:$LATEST',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: { ORDER_IDS: ['9e07af03-ce31-4ff3-xmpl-36dce652cb4f'] },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorMessage: 'RequestId: e4b46cbf Process exited before completing request' },
    });
  });

  it('has no functionError on success and no response when the function never ran', () => {
    const ok = buildDestinationRecord({ requestId: 'r', functionArn: defaultFunctionArn('f'), condition: 'Success', invokeCount: 1, requestPayload: Buffer.from('{}'), response: { outcome: 'success', payload: Buffer.from('"done"') }, now: 0 });
    expect(ok.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(ok.responsePayload).toBe('done');
    expect(ok.requestContext.functionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST');
    const aged = buildDestinationRecord({ requestId: 'r', functionArn: 'a', condition: 'EventAgeExceeded', invokeCount: 0, requestPayload: Buffer.from('{}'), now: 0 });
    expect(aged).not.toHaveProperty('responseContext');
    expect(aged).not.toHaveProperty('responsePayload');
  });

  it('qualifies the ARN with what the event was invoked as and names the version that ran', () => {
    const base = { requestId: 'r', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', condition: 'Success' as const, invokeCount: 1, requestPayload: Buffer.from('{}'), now: 0 };
    const alias = buildDestinationRecord({ ...base, qualifier: 'live', response: { outcome: 'success', payload: Buffer.from('1'), executedVersion: '3' } });
    expect(alias.requestContext.functionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:f:live');
    expect(alias.responseContext).toEqual({ statusCode: 200, executedVersion: '3' });
    const version = buildDestinationRecord({ ...base, qualifier: '2', response: { outcome: 'success', payload: Buffer.from('1'), executedVersion: '2' } });
    expect(version.requestContext.functionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:f:2');
    expect(buildDestinationRecord({ ...base, qualifier: '$LATEST' }).requestContext.functionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST');
  });

  it('handles a handled error, and payloads that are not JSON', () => {
    const rec = buildDestinationRecord({ requestId: 'r', functionArn: 'a', condition: 'RetriesExhausted', invokeCount: 1, requestPayload: Buffer.from('plain text'), response: { outcome: 'handled', payload: Buffer.from('') }, now: 0 });
    expect(rec.responseContext?.functionError).toBe('Handled');
    expect(rec.requestPayload).toBe('plain text');
    expect(rec.responsePayload).toBeNull();
    expect(decodePayload(Buffer.from('[1,2]'))).toEqual([1, 2]);
  });
});
