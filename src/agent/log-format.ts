// Lambda's advanced logging controls as the agent applies them to a
// function's output (spec.logging, Lambda's LoggingConfig). In Text format
// nothing changes: the runtime's lines pass as written and START/END/REPORT
// are the plain lines of report-lines.ts. In JSON format every line leaves
// the agent as one JSON object carrying timestamp, level and requestId:
// objects the runtime already wrote are kept (the fields they lack added),
// anything else is wrapped as an INFO message; lines below the function's
// applicationLogLevel are dropped; START/END/REPORT become Lambda's
// platform.start / platform.runtimeDone / platform.report records, kept when
// their level passes systemLogLevel. The agent is the one place this happens,
// so the embedded default and pods write the same lines. Pure.
import {
  APPLICATION_LOG_LEVELS,
  LATEST,
  LOG_FORMATS,
  SYSTEM_LOG_LEVELS,
  type ApplicationLogLevel,
  type LogFormat,
  type Logging,
  type SystemLogLevel,
} from '../api/function.js';
import { billedDurationMs, endLine, reportLine, startLine, type ReportFields } from './report-lines.js';

export interface LogSettings {
  format: LogFormat;
  applicationLogLevel: ApplicationLogLevel;
  systemLogLevel: SystemLogLevel;
}

/** Lambda's defaults: Text; in JSON both levels INFO. */
export const DEFAULT_LOG_SETTINGS: LogSettings = { format: 'Text', applicationLogLevel: 'INFO', systemLogLevel: 'INFO' };

/** The settings a function's spec.logging asks for, Lambda's defaults filled in. */
export function logSettings(logging: Logging | undefined): LogSettings {
  if (logging === undefined || logging.format !== 'JSON') return DEFAULT_LOG_SETTINGS;
  return { format: 'JSON', applicationLogLevel: logging.applicationLogLevel ?? 'INFO', systemLogLevel: logging.systemLogLevel ?? 'INFO' };
}

/**
 * What the runtime is told, as Lambda tells it: AWS_LAMBDA_LOG_FORMAT and
 * AWS_LAMBDA_LOG_LEVEL, which AWS's runtime clients (and Hearth's) read to
 * write JSON and to skip the levels below. In Text neither is set: Text is
 * every runtime's default, and a Text function's environment stays as it was.
 */
export function runtimeLogEnv(s: LogSettings): Record<string, string> {
  return s.format === 'JSON' ? { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: s.applicationLogLevel } : {};
}

const APP_RANK = new Map<string, number>(APPLICATION_LOG_LEVELS.map((l, i) => [l, i]));
const SYSTEM_RANK = new Map<string, number>(SYSTEM_LOG_LEVELS.map((l, i) => [l, i]));

/** Other spellings a JSON line may use: Python's names and pino's numbers. */
const ALIASES: Record<string, ApplicationLogLevel> = { WARNING: 'WARN', CRITICAL: 'FATAL', ERR: 'ERROR' };
const PINO_LEVELS: Record<number, ApplicationLogLevel> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** The level a line's "level" field names, or undefined when it names none (Lambda then counts the line as INFO). */
export function levelOf(value: unknown): ApplicationLogLevel | undefined {
  if (typeof value === 'number') return PINO_LEVELS[value];
  if (typeof value !== 'string') return undefined;
  const upper = value.trim().toUpperCase();
  const alias = ALIASES[upper];
  if (alias !== undefined) return alias;
  return APP_RANK.has(upper) ? (upper as ApplicationLogLevel) : undefined;
}

/** Whether an application line at `level` passes the threshold. */
export function keepsApplication(level: ApplicationLogLevel, threshold: ApplicationLogLevel): boolean {
  return (APP_RANK.get(level) ?? 0) >= (APP_RANK.get(threshold) ?? 0);
}

function parseObject(line: string): Record<string, unknown> | undefined {
  // Cheap test first: most lines are not JSON, and JSON.parse on them throws.
  if (!line.trimStart().startsWith('{')) return undefined;
  try {
    const doc: unknown = JSON.parse(line);
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The requestId a JSON line carries itself, when it is a known invocation's: how a line is told apart at concurrency > 1. */
export function jsonRequestId(line: string, isKnown: (id: string) => boolean): string | undefined {
  const id = parseObject(line)?.requestId;
  return typeof id === 'string' && isKnown(id) ? id : undefined;
}

/** A plain message as Lambda's JSON lines carry one. */
export function wrapMessage(message: string, level: ApplicationLogLevel, requestId: string | undefined, now: Date): string {
  const entry: Record<string, unknown> = { timestamp: now.toISOString(), level };
  if (requestId !== undefined) entry.requestId = requestId;
  entry.message = message;
  return JSON.stringify(entry);
}

/**
 * One line of the function's output as it leaves the agent, or undefined
 * when it is dropped (below applicationLogLevel). `requestId` is the
 * invocation the agent counts the line to (none during init).
 */
export function formatApplicationLine(line: string, requestId: string | undefined, now: Date, s: LogSettings): string | undefined {
  if (s.format === 'Text') return line;
  const doc = parseObject(line);
  if (doc === undefined) return keepsApplication('INFO', s.applicationLogLevel) ? wrapMessage(line, 'INFO', requestId, now) : undefined;
  const level = levelOf(doc.level);
  if (!keepsApplication(level ?? 'INFO', s.applicationLogLevel)) return undefined;
  const missing = doc.timestamp === undefined || doc.level === undefined || (doc.requestId === undefined && requestId !== undefined);
  // Kept as written when it already says all three; otherwise the missing ones go in front, the runtime's fields after.
  if (!missing) return line;
  const entry: Record<string, unknown> = {};
  if (doc.timestamp === undefined) entry.timestamp = now.toISOString();
  if (doc.level === undefined) entry.level = 'INFO';
  if (doc.requestId === undefined && requestId !== undefined) entry.requestId = requestId;
  return JSON.stringify({ ...entry, ...doc });
}

export type PlatformType = 'platform.start' | 'platform.runtimeDone' | 'platform.report';

/** The system log level of each record the agent writes (Lambda: all three at INFO; WARN keeps none of them). */
export const PLATFORM_LEVELS: Record<PlatformType, SystemLogLevel> = {
  'platform.start': 'INFO',
  'platform.runtimeDone': 'INFO',
  'platform.report': 'INFO',
};

export function keepsSystem(type: PlatformType, threshold: SystemLogLevel): boolean {
  return (SYSTEM_RANK.get(PLATFORM_LEVELS[type]) ?? 0) >= (SYSTEM_RANK.get(threshold) ?? 0);
}

/** Lambda's invocation outcome in platform records. */
export type InvocationStatus = 'success' | 'error' | 'timeout';

function platformRecord(type: PlatformType, record: Record<string, unknown>, now: Date): string {
  return JSON.stringify({ time: now.toISOString(), type, record });
}

/** Milliseconds as Lambda's records give them: a number with at most three decimals. */
function ms(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function platformStart(requestId: string, version: string, now: Date): string {
  return platformRecord('platform.start', { requestId, version }, now);
}

export function platformRuntimeDone(requestId: string, status: InvocationStatus, durationMs: number, now: Date): string {
  return platformRecord('platform.runtimeDone', { requestId, status, metrics: { durationMs: ms(durationMs) } }, now);
}

export function platformReport(f: ReportFields, now: Date): string {
  const metrics: Record<string, number> = {
    durationMs: ms(f.durationMs),
    billedDurationMs: billedDurationMs(f.durationMs),
    memorySizeMB: f.memorySizeMB,
    maxMemoryUsedMB: f.maxMemoryUsedMB,
  };
  if (f.initDurationMs !== undefined) metrics.initDurationMs = ms(f.initDurationMs);
  return platformRecord('platform.report', { requestId: f.requestId, metrics, status: statusOf(f.status) }, now);
}

function statusOf(status: ReportFields['status']): InvocationStatus {
  return status ?? 'success';
}

/**
 * The lines before an invocation's output. Text: START (for the log tail
 * only, as before); JSON: platform.start when systemLogLevel keeps it.
 */
export function openingLines(s: LogSettings, requestId: string, version: string = LATEST, now: Date = new Date()): string[] {
  if (s.format === 'Text') return [startLine(requestId, version)];
  return keepsSystem('platform.start', s.systemLogLevel) ? [platformStart(requestId, version, now)] : [];
}

/** The lines after it. Text: END and REPORT; JSON: platform.runtimeDone and platform.report, as systemLogLevel keeps them. */
export function closingLines(s: LogSettings, f: ReportFields, now: Date = new Date()): string[] {
  if (s.format === 'Text') return [endLine(f.requestId), reportLine(f)];
  const out: string[] = [];
  if (keepsSystem('platform.runtimeDone', s.systemLogLevel)) out.push(platformRuntimeDone(f.requestId, statusOf(f.status), f.durationMs, now));
  if (keepsSystem('platform.report', s.systemLogLevel)) out.push(platformReport(f, now));
  return out;
}

/**
 * The line the agent adds when the sandbox ended an invocation (a timeout, a
 * crash): Text's `<time> <id> <message>`, or an ERROR line in JSON (never
 * dropped: no applicationLogLevel is above ERROR but FATAL, which drops it, as
 * it would drop the runtime's own ERROR lines).
 */
export function sandboxErrorLine(s: LogSettings, requestId: string, message: string, now: Date = new Date()): string | undefined {
  if (s.format === 'Text') return `${now.toISOString()} ${requestId} ${message}`;
  return keepsApplication('ERROR', s.applicationLogLevel) ? wrapMessage(message, 'ERROR', requestId, now) : undefined;
}

/** Whether the platform's records go to the function's log (files, pod stdout) too: in JSON, as Lambda's log group has them. Text keeps its log as before. */
export function recordsInLog(s: LogSettings): boolean {
  return s.format === 'JSON';
}

/** What `hearth agent`'s flags (--log-format, --application-log-level, --system-log-level) ask for; an unknown value is an error naming the flag. */
export function parseLogFlags(format: string | undefined, applicationLogLevel: string | undefined, systemLogLevel: string | undefined): LogSettings {
  const pick = <T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined => {
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`${flag} must be one of ${allowed.join(', ')}, not ${v}`);
    return v as T;
  };
  const f = pick('--log-format', format, LOG_FORMATS) ?? 'Text';
  const app = pick('--application-log-level', applicationLogLevel, APPLICATION_LOG_LEVELS);
  const sys = pick('--system-log-level', systemLogLevel, SYSTEM_LOG_LEVELS);
  if (f === 'Text' && (app !== undefined || sys !== undefined)) throw new Error('--application-log-level and --system-log-level need --log-format JSON');
  return logSettings({ format: f, ...(app !== undefined ? { applicationLogLevel: app } : {}), ...(sys !== undefined ? { systemLogLevel: sys } : {}) });
}

/** The flags that give a pod's agent the function's settings (none for Text, so a Text function's pod template stays as it was). */
export function logFlags(s: LogSettings): string[] {
  return s.format === 'JSON' ? ['--log-format', 'JSON', '--application-log-level', s.applicationLogLevel, '--system-log-level', s.systemLogLevel] : [];
}
