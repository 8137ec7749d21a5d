// LoggingConfig in CreateFunction / UpdateFunctionConfiguration bodies and in
// the FunctionConfiguration answer, against the Function's spec.logging.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema, type Logging } from '../../src/api/function.js';
import { applyConfiguration, readConfiguration } from '../../src/control/configuration-update.js';
import { readCreateFunction } from '../../src/control/create-function.js';
import { applyLogging, loggingConfig, readLoggingConfig, type LoggingFields } from '../../src/control/logging-config.js';
import { LambdaError } from '../../src/gateway/lambda-errors.js';

function refusal(f: () => unknown): { status: number; type: string; message: string } | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    if (!(err instanceof LambdaError)) throw err;
    return { status: err.status, type: err.type, message: err.message };
  }
}

describe('reading LoggingConfig', () => {
  it.each([
    [{}, {}],
    [{ LogFormat: 'JSON' }, { format: 'JSON' }],
    [{ LogFormat: 'Text', LogGroup: '/custom/fn' }, { format: 'Text', logGroup: '/custom/fn' }],
    [{ LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'DEBUG' }, { format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'DEBUG' }],
  ])('%j -> %j', (body, want) => {
    expect(readLoggingConfig(body)).toEqual(want);
  });

  it.each([
    [{ LogFormat: 'json' }, "Value 'json' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [Text, JSON]"],
    [{ ApplicationLogLevel: 'VERBOSE' }, "at 'loggingConfig.applicationLogLevel'"],
    [{ SystemLogLevel: 'ERROR' }, "Value 'ERROR' at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]"],
    [{ LogGroup: 'has space' }, "at 'loggingConfig.logGroup'"],
    [{ LogFormat: 3 }, 'LogFormat must be a string'],
  ])('%j is refused naming the member', (body, message) => {
    const r = refusal(() => readLoggingConfig(body));
    expect(r).toMatchObject({ status: 400, type: 'InvalidParameterValueException' });
    expect(r?.message).toContain(message);
  });
});

describe('applying LoggingConfig to spec.logging', () => {
  it.each<[Partial<Logging> | undefined, LoggingFields, Logging | undefined]>([
    [undefined, {}, undefined],
    [undefined, { format: 'Text' }, undefined],
    [undefined, { format: 'JSON' }, { format: 'JSON' }],
    [undefined, { format: 'JSON', applicationLogLevel: 'WARN' }, { format: 'JSON', applicationLogLevel: 'WARN' }],
    // Members not named stay.
    [{ format: 'JSON', applicationLogLevel: 'WARN' }, { systemLogLevel: 'WARN' }, { format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'WARN' }],
    [{ format: 'JSON', applicationLogLevel: 'WARN' }, { logGroup: '/g' }, { format: 'JSON', applicationLogLevel: 'WARN', logGroup: '/g' }],
    // Back to Text: the levels go, a log group stays.
    [{ format: 'JSON', applicationLogLevel: 'WARN', logGroup: '/g' }, { format: 'Text' }, { format: 'Text', logGroup: '/g' }],
    [{ format: 'JSON', systemLogLevel: 'DEBUG' }, { format: 'Text' }, undefined],
  ])('%j + %j -> %j', (stored, fields, want) => {
    expect(applyLogging(stored, fields)).toEqual(want);
  });

  it.each<[Partial<Logging> | undefined, LoggingFields]>([
    [undefined, { applicationLogLevel: 'DEBUG' }],
    [undefined, { format: 'Text', systemLogLevel: 'WARN' }],
    [{ format: 'JSON' }, { format: 'Text', applicationLogLevel: 'ERROR' }],
  ])('levels with Text are an InvalidParameterValueException (%j + %j)', (stored, fields) => {
    const r = refusal(() => applyLogging(stored, fields));
    expect(r).toMatchObject({ status: 400, type: 'InvalidParameterValueException' });
    expect(r?.message).toMatch(/only with LogFormat JSON/);
  });
});

describe('LoggingConfig in FunctionConfiguration', () => {
  it.each<[Logging | undefined, Record<string, string>]>([
    [undefined, { LogFormat: 'Text', LogGroup: '/aws/lambda/fn' }],
    [{ format: 'Text', logGroup: '/mine' }, { LogFormat: 'Text', LogGroup: '/mine' }],
    [{ format: 'JSON' }, { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO', LogGroup: '/aws/lambda/fn' }],
    [{ format: 'JSON', applicationLogLevel: 'ERROR', systemLogLevel: 'WARN' }, { LogFormat: 'JSON', ApplicationLogLevel: 'ERROR', SystemLogLevel: 'WARN', LogGroup: '/aws/lambda/fn' }],
  ])('%j -> %j', (logging, want) => {
    expect(loggingConfig('fn', logging)).toEqual(want);
  });
});

describe('CreateFunction and UpdateFunctionConfiguration bodies', () => {
  it('CreateFunction writes spec.logging, which the schema accepts', () => {
    const req = readCreateFunction(
      { Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: 'UEsDBA==' }, LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'WARN' } },
      'fn',
      'x86_64',
    );
    const spec = req.input({ package: { path: 'x.zip' } }).spec;
    expect(spec.logging).toEqual({ format: 'JSON', applicationLogLevel: 'WARN' });
    expect(FunctionSpecSchema.safeParse(spec).success).toBe(true);
  });

  it('CreateFunction with a level and Text is refused', () => {
    const req = readCreateFunction({ Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: 'UEsDBA==' }, LoggingConfig: { ApplicationLogLevel: 'WARN' } }, 'fn', 'x86_64');
    expect(refusal(() => req.input({ package: { path: 'x.zip' } }))?.type).toBe('InvalidParameterValueException');
  });

  it('UpdateFunctionConfiguration changes only logging, and back to Text removes it', () => {
    const spec = { runtime: 'python3.12' as const, handler: 'app.handler', code: { inline: { 'app.py': '' } }, memoryMB: 256 };
    const json = applyConfiguration(spec, readConfiguration({ LoggingConfig: { LogFormat: 'JSON', SystemLogLevel: 'WARN' } }, 'fn'));
    expect(json).toEqual({ ...spec, logging: { format: 'JSON', systemLogLevel: 'WARN' } });
    const text = applyConfiguration(json, readConfiguration({ LoggingConfig: { LogFormat: 'Text' } }, 'fn'));
    expect(text).toEqual(spec);
    // A body without LoggingConfig leaves it.
    expect(applyConfiguration(json, readConfiguration({ Timeout: 9 }, 'fn')).logging).toEqual({ format: 'JSON', systemLogLevel: 'WARN' });
  });
});
