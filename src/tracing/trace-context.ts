// The two ways a trace context travels into and through Hearth: W3C Trace
// Context's `traceparent` (OpenTelemetry) and AWS X-Ray's `X-Amzn-Trace-Id`
// (what Lambda hands runtimes as _X_AMZN_TRACE_ID). They name the same
// trace: X-Ray's Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY is the 32 hex
// digits of a W3C trace id cut after the eighth, and its Parent is a W3C
// span id. Pure: every rule here is table-tested.

/** A span's place in a trace: 32 and 16 lower-case hex digits, and whether it is sampled. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);
// version-traceid-parentid-flags; a later version may append fields after a dash, which a version-00 reader ignores.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function validIds(traceId: string, spanId: string): boolean {
  return HEX32.test(traceId) && traceId !== ZERO32 && HEX16.test(spanId) && spanId !== ZERO16;
}

/**
 * A `traceparent` header as W3C Trace Context level 1 reads it: version ff
 * and all-zero ids are invalid; version 00 has exactly four fields; a higher
 * version is read by its first four. Surrounding spaces are tolerated
 * (header values are often trimmed), upper-case hex is not (the spec says
 * lower case). Undefined for anything invalid: the caller starts a new trace.
 */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (header === undefined) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId = '', spanId = '', flags = '00', rest] = m;
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (!validIds(traceId, spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

/** X-Ray's Root for a W3C trace id: `1-` + the first 8 hex digits (the epoch seconds, in X-Ray's ids) + `-` + the other 24. */
export function xrayRoot(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

/** The W3C trace id of an X-Ray Root (1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY), or undefined when it is not one. */
export function traceIdOfXrayRoot(root: string): string | undefined {
  const m = /^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$/.exec(root);
  if (!m) return undefined;
  const id = `${m[1]}${m[2]}`.toLowerCase();
  return id === ZERO32 ? undefined : id;
}

/** What an X-Amzn-Trace-Id header says: the trace, and the parent span and sampling decision when it names them. */
export interface XrayHeader {
  traceId: string;
  parentId?: string;
  /** Sampled=1 / Sampled=0; absent when the header leaves the decision open (Sampled=? or none). */
  sampled?: boolean;
}

/** Reads `Root=…;Parent=…;Sampled=…` (fields in any order, others ignored); undefined without a well-formed Root. */
export function parseXrayHeader(header: string | undefined): XrayHeader | undefined {
  if (header === undefined) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const root = fields.get('Root');
  const traceId = root === undefined ? undefined : traceIdOfXrayRoot(root);
  if (traceId === undefined) return undefined;
  const out: XrayHeader = { traceId };
  const parent = fields.get('Parent')?.toLowerCase();
  if (parent !== undefined && HEX16.test(parent) && parent !== ZERO16) out.parentId = parent;
  const sampled = fields.get('Sampled');
  if (sampled === '1') out.sampled = true;
  else if (sampled === '0') out.sampled = false;
  return out;
}

/** The X-Amzn-Trace-Id (and _X_AMZN_TRACE_ID) naming a span: Root from its trace, Parent its id, Sampled its flag. */
export function formatXrayHeader(ctx: TraceContext): string {
  return `Root=${xrayRoot(ctx.traceId)};Parent=${ctx.spanId};Sampled=${ctx.sampled ? '1' : '0'}`;
}

/** The X-Amzn-Trace-Id for a `traceparent`, or undefined when that is not a valid one. */
export function xrayHeaderOfTraceparent(traceparent: string | undefined): string | undefined {
  const ctx = parseTraceparent(traceparent);
  return ctx === undefined ? undefined : formatXrayHeader(ctx);
}

/**
 * Where a request's work joins a trace:
 * - `parent`: the caller's span, to continue (a valid traceparent wins; else an
 *   X-Amzn-Trace-Id naming its Parent, sampled unless it says Sampled=0);
 * - `traceId` only: an X-Amzn-Trace-Id with a Root but no Parent, so the trace
 *   is the caller's but the first span is a root;
 * - neither: a new trace.
 */
export interface CallerTrace {
  parent?: TraceContext;
  traceId?: string;
}

export function callerTrace(traceparent: string | undefined, xAmznTraceId: string | undefined): CallerTrace {
  const w3c = parseTraceparent(traceparent);
  if (w3c !== undefined) return { parent: w3c };
  const xray = parseXrayHeader(xAmznTraceId);
  if (xray === undefined) return {};
  if (xray.parentId === undefined) return { traceId: xray.traceId };
  return { parent: { traceId: xray.traceId, spanId: xray.parentId, sampled: xray.sampled ?? true } };
}
