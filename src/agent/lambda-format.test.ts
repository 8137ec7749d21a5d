import { describe, expect, it } from 'vitest';
import { exitError, exitReason, normalisePostedError, outOfMemoryError, responseTooLargeError, timeoutError } from './lambda-errors.js';
import { billedDurationMs, peakMemoryMB, reportLine, startLine, endLine } from './report-lines.js';
import { encodeLogTail, findRequestId, LineBuffer, utf8Tail } from './log-tail.js';
import { requestFromHeaders, requestToHeaders, resultFromHeaders, resultToHeaders } from './invoke-headers.js';
import { MAX_LOG_TAIL_BYTES, type InvokeResult } from './invocation.js';

describe('Lambda error documents', () => {
  it('words timeouts and exits as Lambda does', () => {
    expect(timeoutError('r1', 3)).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: r1 Error: Task timed out after 3.00 seconds' });
    expect(exitError('r1', 1, null).errorMessage).toBe('RequestId: r1 Error: Runtime exited with error: exit status 1');
    expect(exitReason(null, 'SIGKILL')).toBe('signal: killed');
    expect(exitReason(null, 'SIGUSR2')).toBe('signal: SIGUSR2');
    expect(responseTooLargeError(10).errorType).toBe('Function.ResponseSizeTooLarge');
    expect(outOfMemoryError('r1')).toEqual({ errorType: 'Runtime.OutOfMemory', errorMessage: 'RequestId: r1 Error: Runtime exited with error: signal: killed' });
  });

  it('passes posted JSON through and wraps anything else', () => {
    const ok = normalisePostedError(Buffer.from('{"errorType":"ValueError","errorMessage":"x"}'), 'Other');
    expect(ok.errorType).toBe('ValueError');
    const noType = normalisePostedError(Buffer.from('{"errorMessage":"x"}'), 'HeaderType');
    expect(noType.errorType).toBe('HeaderType');
    const text = normalisePostedError(Buffer.from('plain text'), undefined);
    expect(text.errorType).toBe('Runtime.Unknown');
    expect(JSON.parse(text.payload.toString())).toEqual({ errorMessage: 'plain text', errorType: 'Runtime.Unknown' });
  });
});

describe('REPORT line', () => {
  it('follows Lambda\'s layout', () => {
    expect(startLine('id')).toBe('START RequestId: id Version: $LATEST');
    expect(endLine('id')).toBe('END RequestId: id');
    expect(reportLine({ requestId: 'id', durationMs: 1.234, memorySizeMB: 128, maxMemoryUsedMB: 40 })).toBe(
      'REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t',
    );
    expect(reportLine({ requestId: 'id', durationMs: 3000.4, memorySizeMB: 256, maxMemoryUsedMB: 1, initDurationMs: 120.5, status: 'timeout' })).toBe(
      'REPORT RequestId: id\tDuration: 3000.40 ms\tBilled Duration: 3001 ms\tMemory Size: 256 MB\tMax Memory Used: 1 MB\tInit Duration: 120.50 ms\tStatus: timeout',
    );
    expect(billedDurationMs(0.01)).toBe(1);
    expect(peakMemoryMB('Name:\tnode\nVmHWM:\t   51200 kB\nVmRSS:\t 1 kB\n')).toBe(50);
    expect(peakMemoryMB('nothing')).toBe(0);
  });
});

describe('log tail', () => {
  it('finds the request id in Node and Python line layouts, only when known', () => {
    const known = (s: string) => s === 'abc-123';
    expect(findRequestId('2024-01-01T00:00:00.000Z\tabc-123\tINFO\thi', known)).toBe('abc-123');
    expect(findRequestId('[INFO]\t2024-01-01T00:00:00.000Z\tabc-123\thi', known)).toBe('abc-123');
    expect(findRequestId('plain line', known)).toBeUndefined();
    expect(findRequestId('a\tb\tc\tabc-123', known)).toBeUndefined();
  });

  it('cuts to the last 4 KB without splitting a UTF-8 character', () => {
    const buf = Buffer.from('é'.repeat(3000));
    const tail = utf8Tail(buf, 4095);
    expect(tail.length).toBeLessThanOrEqual(4095);
    expect(tail.toString('utf8')).toBe('é'.repeat(tail.length / 2));
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
    const text = Buffer.from(encodeLogTail('START', lines, 'END', 'REPORT'), 'base64').toString('utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_LOG_TAIL_BYTES);
    expect(text.endsWith('line 499\nEND\nREPORT\n')).toBe(true);
  });

  it('bounds the lines it keeps for the tail', () => {
    const b = new LineBuffer(20);
    for (let i = 0; i < 10; i++) b.push(`line-${i}`);
    expect(b.all.at(-1)).toBe('line-9');
    expect(b.all.join('\n').length).toBeLessThanOrEqual(20);
  });
});

describe('invoke headers', () => {
  it('round-trip a request and a result', () => {
    const req = { requestId: 'r', payload: Buffer.from('{}'), timeoutMs: 1500, invokedFunctionArn: 'arn', traceId: 't', traceparent: '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01', clientContext: 'c', cognitoIdentity: 'i', tailLogs: true };
    expect(requestFromHeaders(requestToHeaders(req), req.payload, { timeoutSeconds: 3, functionArn: 'x' })).toEqual(req);
    const res: InvokeResult = { outcome: 'handled', payload: Buffer.from('{}'), errorType: 'E', durationMs: 1.5, initDurationMs: 2.25, logTail: 'bG9n' };
    expect(resultFromHeaders(resultToHeaders(res, 'r'), res.payload)).toEqual(res);
  });

  it('fills in what an emulator-style caller leaves out', () => {
    const r = requestFromHeaders({}, Buffer.from('{}'), { timeoutSeconds: 3, functionArn: 'arn:x' });
    expect(r.timeoutMs).toBe(3000);
    for (const bad of ['', 'abc', '0', '-5', 'Infinity']) {
      expect(requestFromHeaders({ 'x-hearth-timeout-ms': bad }, Buffer.from('{}'), { timeoutSeconds: 2, functionArn: 'a' }).timeoutMs).toBe(2000);
    }
    expect(r.invokedFunctionArn).toBe('arn:x');
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
