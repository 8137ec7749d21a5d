import { describe, expect, it } from 'vitest';
import { LoggingSchema } from '../../src/api/function.js';
import {
  closingLines,
  DEFAULT_LOG_SETTINGS,
  formatApplicationLine,
  jsonRequestId,
  keepsApplication,
  levelOf,
  logSettings,
  openingLines,
  platformReport,
  runtimeLogEnv,
  sandboxErrorLine,
  type LogSettings,
} from '../../src/agent/log-format.js';

const NOW = new Date('2026-12-07T05:00:00.123Z');
const TS = NOW.toISOString();
const json = (level: LogSettings['applicationLogLevel'], systemLogLevel: LogSettings['systemLogLevel'] = 'INFO'): LogSettings => ({ format: 'JSON', applicationLogLevel: level, systemLogLevel });

describe('spec.logging', () => {
  it.each([
    [{}, true],
    [{ format: 'JSON' }, true],
    [{ format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'DEBUG', logGroup: '/custom/group#1' }, true],
    [{ format: 'Text', applicationLogLevel: 'WARN' }, false],
    [{ systemLogLevel: 'WARN' }, false],
    [{ format: 'JSON', systemLogLevel: 'ERROR' }, false],
    [{ format: 'JSON', applicationLogLevel: 'warn' }, false],
    [{ format: 'json' }, false],
    [{ logGroup: 'has space' }, false],
  ])('%j valid: %s', (input, ok) => {
    expect(LoggingSchema.safeParse(input).success).toBe(ok);
  });

  it('levels with Text are refused with a message naming JSON', () => {
    const r = LoggingSchema.safeParse({ format: 'Text', applicationLogLevel: 'DEBUG' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/need format JSON/);
  });

  it.each([
    [undefined, DEFAULT_LOG_SETTINGS],
    [{ format: 'Text' as const }, DEFAULT_LOG_SETTINGS],
    [{ format: 'JSON' as const }, json('INFO')],
    [{ format: 'JSON' as const, applicationLogLevel: 'ERROR' as const, systemLogLevel: 'WARN' as const }, json('ERROR', 'WARN')],
  ])('settings of %j', (logging, want) => {
    expect(logSettings(logging)).toEqual(want);
  });

  it.each([
    [DEFAULT_LOG_SETTINGS, {}],
    [json('INFO'), { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' }],
    [json('TRACE', 'WARN'), { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'TRACE' }],
  ])('runtime env of %j', (s, env) => {
    expect(runtimeLogEnv(s)).toEqual(env);
  });
});

describe('levels', () => {
  it.each([
    ['INFO', 'INFO'],
    ['warn', 'WARN'],
    ['WARNING', 'WARN'],
    ['critical', 'FATAL'],
    ['Trace', 'TRACE'],
    [40, 'WARN'],
    [60, 'FATAL'],
    ['verbose', undefined],
    [35, undefined],
    [null, undefined],
  ])('levelOf(%j) = %s', (v, want) => {
    expect(levelOf(v)).toBe(want);
  });

  it.each([
    ['TRACE', 'TRACE', true],
    ['DEBUG', 'INFO', false],
    ['INFO', 'INFO', true],
    ['WARN', 'INFO', true],
    ['INFO', 'WARN', false],
    ['ERROR', 'FATAL', false],
    ['FATAL', 'FATAL', true],
  ] as const)('%s kept at threshold %s: %s', (level, threshold, kept) => {
    expect(keepsApplication(level, threshold)).toBe(kept);
  });
});

describe('application lines', () => {
  it.each([
    // Text: as written, whatever it is.
    ['plain', DEFAULT_LOG_SETTINGS, 'r1', 'plain'],
    ['{"level":"DEBUG","message":"x"}', DEFAULT_LOG_SETTINGS, 'r1', '{"level":"DEBUG","message":"x"}'],
    // JSON: a plain line is wrapped as INFO.
    ['hello', json('INFO'), 'r1', JSON.stringify({ timestamp: TS, level: 'INFO', requestId: 'r1', message: 'hello' })],
    ['hello', json('WARN'), 'r1', undefined],
    ['', json('INFO'), 'r1', JSON.stringify({ timestamp: TS, level: 'INFO', requestId: 'r1', message: '' })],
    // Init lines belong to no invocation: no requestId.
    ['loading', json('INFO'), undefined, JSON.stringify({ timestamp: TS, level: 'INFO', message: 'loading' })],
    // A runtime's complete JSON line is kept byte for byte.
    ['{"timestamp":"t","level":"WARN","requestId":"r1","message":"w"}', json('WARN'), 'r1', '{"timestamp":"t","level":"WARN","requestId":"r1","message":"w"}'],
    ['{"timestamp":"t","level":"DEBUG","requestId":"r1","message":"d"}', json('INFO'), 'r1', undefined],
    ['{"timestamp":"t","level":"warning","message":"w"}', json('WARN'), 'r1', '{"requestId":"r1","timestamp":"t","level":"warning","message":"w"}'],
    // Missing fields are added in front; a line's own requestId wins.
    ['{"level":"ERROR","msg":"e"}', json('ERROR'), 'r1', JSON.stringify({ timestamp: TS, requestId: 'r1', level: 'ERROR', msg: 'e' })],
    ['{"timestamp":"t","level":"INFO","requestId":"other"}', json('INFO'), 'r1', '{"timestamp":"t","level":"INFO","requestId":"other"}'],
    // No level, or one Lambda does not know: INFO, as Lambda counts it.
    ['{"a":1}', json('INFO'), 'r1', JSON.stringify({ timestamp: TS, level: 'INFO', requestId: 'r1', a: 1 })],
    ['{"a":1}', json('WARN'), 'r1', undefined],
    ['{"timestamp":"t","level":"loud","requestId":"r1"}', json('WARN'), 'r1', undefined],
    // pino's numeric levels.
    ['{"level":20,"time":1,"msg":"d"}', json('INFO'), 'r1', undefined],
    ['{"level":50,"time":1,"msg":"e"}', json('INFO'), 'r1', JSON.stringify({ timestamp: TS, requestId: 'r1', level: 50, time: 1, msg: 'e' })],
    // Not an object: wrapped.
    ['[1,2]', json('INFO'), 'r1', JSON.stringify({ timestamp: TS, level: 'INFO', requestId: 'r1', message: '[1,2]' })],
    ['{cut', json('INFO'), 'r1', JSON.stringify({ timestamp: TS, level: 'INFO', requestId: 'r1', message: '{cut' })],
  ] as const)('%j (%j, %s) -> %s', (line, s, id, want) => {
    expect(formatApplicationLine(line, id, NOW, s)).toBe(want);
  });

  it.each([
    ['{"requestId":"a","level":"INFO"}', 'a'],
    ['{"requestId":"zz","level":"INFO"}', undefined],
    ['a\tINFO', undefined],
  ])('jsonRequestId(%j) = %s', (line, want) => {
    expect(jsonRequestId(line, (id) => id === 'a')).toBe(want);
  });
});

describe('platform records', () => {
  const report = { requestId: 'r1', durationMs: 12.34567, memorySizeMB: 128, maxMemoryUsedMB: 40 };

  it('Text keeps START, END and REPORT exactly', () => {
    expect(openingLines(DEFAULT_LOG_SETTINGS, 'r1')).toEqual(['START RequestId: r1 Version: $LATEST']);
    expect(openingLines(DEFAULT_LOG_SETTINGS, 'r1', '3')).toEqual(['START RequestId: r1 Version: 3']);
    expect(closingLines(DEFAULT_LOG_SETTINGS, report)).toEqual([
      'END RequestId: r1',
      'REPORT RequestId: r1\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t',
    ]);
  });

  it('JSON: platform.start, platform.runtimeDone and platform.report in Lambda shape', () => {
    expect(openingLines(json('INFO'), 'r1', '$LATEST', NOW).map((l) => JSON.parse(l) as unknown)).toEqual([
      { time: TS, type: 'platform.start', record: { requestId: 'r1', version: '$LATEST' } },
    ]);
    expect(closingLines(json('INFO'), { ...report, initDurationMs: 100.5, status: 'timeout' }, NOW).map((l) => JSON.parse(l) as unknown)).toEqual([
      { time: TS, type: 'platform.runtimeDone', record: { requestId: 'r1', status: 'timeout', metrics: { durationMs: 12.346 } } },
      {
        time: TS,
        type: 'platform.report',
        record: { requestId: 'r1', metrics: { durationMs: 12.346, billedDurationMs: 13, memorySizeMB: 128, maxMemoryUsedMB: 40, initDurationMs: 100.5 }, status: 'timeout' },
      },
    ]);
    expect(JSON.parse(platformReport(report, NOW))).toMatchObject({ record: { status: 'success', metrics: { billedDurationMs: 13 } } });
    expect(JSON.parse(platformReport(report, NOW)).record.metrics).not.toHaveProperty('initDurationMs');
  });

  it.each([
    ['DEBUG', 1, 2],
    ['INFO', 1, 2],
    ['WARN', 0, 0],
  ] as const)('systemLogLevel %s keeps %i opening and %i closing records', (level, opening, closing) => {
    expect(openingLines(json('INFO', level), 'r1', '$LATEST', NOW)).toHaveLength(opening);
    expect(closingLines(json('INFO', level), report, NOW)).toHaveLength(closing);
  });

  it.each([
    [DEFAULT_LOG_SETTINGS, `${TS} r1 Task timed out`],
    [json('INFO'), JSON.stringify({ timestamp: TS, level: 'ERROR', requestId: 'r1', message: 'Task timed out' })],
    [json('FATAL'), undefined],
  ] as const)('the sandbox error line in %j', (s, want) => {
    expect(sandboxErrorLine(s, 'r1', 'Task timed out', NOW)).toBe(want);
  });
});
