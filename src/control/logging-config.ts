// Lambda's LoggingConfig (LogFormat, ApplicationLogLevel, SystemLogLevel,
// LogGroup) <-> the Function's spec.logging. CreateFunction and
// UpdateFunctionConfiguration name the members they change; the rest stay.
// Levels need JSON, as on Lambda: a request that gives one with Text is
// refused, and switching to Text forgets the stored ones. Pure.
import {
  APPLICATION_LOG_LEVELS,
  LOG_FORMATS,
  SYSTEM_LOG_LEVELS,
  type ApplicationLogLevel,
  type Logging,
  type LogFormat,
  type SystemLogLevel,
} from '../api/function.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { logSettings } from '../agent/log-format.js';
import { optionalString, type Body } from './body-fields.js';

export interface LoggingFields {
  format?: LogFormat;
  applicationLogLevel?: ApplicationLogLevel;
  systemLogLevel?: SystemLogLevel;
  logGroup?: string;
}

const LOG_GROUP = /^[.\-_/#A-Za-z0-9]+$/;

function member<T extends string>(body: Body, field: string, wire: string, allowed: readonly T[]): T | undefined {
  const v = optionalString(body, field, 64);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw badParameter(`1 validation error detected: Value '${v}' at 'loggingConfig.${wire}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }
  return v as T;
}

export function readLoggingConfig(body: Body): LoggingFields {
  const out: LoggingFields = {};
  const format = member(body, 'LogFormat', 'logFormat', LOG_FORMATS);
  if (format !== undefined) out.format = format;
  const app = member(body, 'ApplicationLogLevel', 'applicationLogLevel', APPLICATION_LOG_LEVELS);
  if (app !== undefined) out.applicationLogLevel = app;
  const system = member(body, 'SystemLogLevel', 'systemLogLevel', SYSTEM_LOG_LEVELS);
  if (system !== undefined) out.systemLogLevel = system;
  const group = optionalString(body, 'LogGroup', 512);
  if (group !== undefined) {
    if (!LOG_GROUP.test(group)) {
      throw badParameter(`1 validation error detected: Value '${group}' at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+`);
    }
    out.logGroup = group;
  }
  return out;
}

/** The stored spec.logging with the request's members applied; undefined when nothing but Lambda's defaults remains. */
export function applyLogging(stored: Logging | Partial<Logging> | undefined, f: LoggingFields): Logging | undefined {
  const next: Partial<Logging> = { ...stored, ...f };
  const format = next.format ?? 'Text';
  if (format === 'Text') {
    if (f.applicationLogLevel !== undefined || f.systemLogLevel !== undefined) {
      throw badParameter('LoggingConfig: ApplicationLogLevel and SystemLogLevel can be set only with LogFormat JSON (Lambda filters by level only in JSON)');
    }
    // Levels kept from a JSON configuration mean nothing in Text: Lambda drops them.
    delete next.applicationLogLevel;
    delete next.systemLogLevel;
  }
  if (format === 'Text' && next.logGroup === undefined) return undefined;
  return { ...next, format };
}

/** GetFunctionConfiguration's LoggingConfig: the format, in JSON its levels (defaults filled in), and the log group. */
export function loggingConfig(functionName: string, logging: Logging | undefined): Record<string, string> {
  const s = logSettings(logging);
  const out: Record<string, string> = { LogFormat: s.format };
  if (s.format === 'JSON') {
    out.ApplicationLogLevel = s.applicationLogLevel;
    out.SystemLogLevel = s.systemLogLevel;
  }
  out.LogGroup = logging?.logGroup ?? `/aws/lambda/${functionName}`;
  return out;
}
