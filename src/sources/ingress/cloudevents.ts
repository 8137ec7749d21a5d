// CloudEvents 1.0 over HTTP (the spec's HTTP protocol binding): one request in
// binary, structured or batch content mode becomes the events a function is
// invoked with, each in the structured JSON form of the JSON event format,
// and each with the idempotency key that makes a redelivery (same source and
// id) run once. Pure: the gateway route (src/gateway/plugins/events.ts)
// does the I/O and maps a refusal's status to Lambda's error shape.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { MIMEType } from 'node:util';

/** A batch request holds at most this many events; a larger one is refused whole, so the sender splits it (nothing half-taken). */
export const MAX_BATCH_EVENTS = 100;

export const STRUCTURED_TYPE = 'application/cloudevents+json';
export const BATCH_TYPE = 'application/cloudevents-batch+json';

export interface CloudEventsRequest {
  /** The Content-Type header as sent (absent: undefined). */
  contentType: string | undefined;
  /** Request headers, names lower-cased (node's IncomingHttpHeaders). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

export interface CloudEventsLimits {
  /** The largest payload one event may become (the async invocation limit). */
  eventBytes: number;
  /** Most events in one batch (default MAX_BATCH_EVENTS). */
  batchEvents?: number;
}

/** One event as the function receives it. */
export interface IngressEvent {
  id: string;
  source: string;
  type: string;
  /** The structured JSON form: what the function's handler gets as its event. */
  event: Record<string, unknown>;
  /** event as JSON bytes: the invocation's payload. */
  payload: Buffer;
  /** The queue's idempotency key: the same (source, id) within the queue's window runs once. */
  idempotencyKey: string;
}

export type ContentMode = 'binary' | 'structured' | 'batch';

export type CloudEventsParse =
  | { ok: true; mode: ContentMode; events: IngressEvent[] }
  /** 400 malformed event, 413 too large (an event or a batch), 415 not a CloudEvents content type this receiver reads. */
  | { ok: false; status: 400 | 413 | 415; message: string };

const REQUIRED = ['id', 'source', 'type'] as const;
const OPTIONAL_STRINGS = ['datacontenttype', 'dataschema', 'subject', 'time'] as const;
const CONTEXT = new Set<string>(['specversion', ...REQUIRED, ...OPTIONAL_STRINGS]);
// The spec: attribute names are lower-case ASCII letters and digits.
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
// RFC 3339 date-time (the spec's Timestamp).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

class Refusal extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** The key under which the queue deduplicates an event: its (source, id), which the spec makes unique per distinct event. */
export function cloudEventKey(source: string, id: string): string {
  return `cloudevents:${createHash('sha256').update(JSON.stringify([source, id])).digest('hex')}`;
}

function mediaType(raw: string): MIMEType | undefined {
  try {
    return new MIMEType(raw);
  } catch {
    return undefined;
  }
}

/** The spec's JSON content types: application/json, text/json and any +json suffix. */
export function isJsonType(t: MIMEType): boolean {
  return t.essence === 'application/json' || t.essence === 'text/json' || t.subtype.endsWith('+json');
}

function checkCharset(t: MIMEType): void {
  const charset = t.params.get('charset');
  if (charset !== null && charset.toLowerCase() !== 'utf-8') throw new Refusal(415, `${t.essence} must be UTF-8, not charset=${charset}`);
}

function parseJson(body: Buffer, what: string): unknown {
  if (!isUtf8(body)) throw new Refusal(400, `${what} is not valid UTF-8`);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new Refusal(400, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** Binary mode header values are percent-encoded UTF-8 (the binding's 3.1.3.2). */
function decodeHeader(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new Refusal(400, `header ${name} is not validly percent-encoded UTF-8`);
  }
}

function checkContext(attrs: Record<string, unknown>, where: string): void {
  if (attrs.specversion === undefined) throw new Refusal(400, `${where}: specversion is required`);
  if (attrs.specversion !== '1.0') throw new Refusal(400, `${where}: specversion ${JSON.stringify(attrs.specversion)} is not supported; this receiver speaks CloudEvents 1.0`);
  for (const name of REQUIRED) {
    const v = attrs[name];
    if (v === undefined) throw new Refusal(400, `${where}: ${name} is required`);
    if (typeof v !== 'string' || v === '') throw new Refusal(400, `${where}: ${name} must be a non-empty string`);
  }
  for (const name of OPTIONAL_STRINGS) {
    const v = attrs[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') throw new Refusal(400, `${where}: ${name} must be a non-empty string when present`);
  }
  if (typeof attrs.time === 'string' && !RFC3339.test(attrs.time)) throw new Refusal(400, `${where}: time ${JSON.stringify(attrs.time)} is not an RFC 3339 timestamp`);
  if (typeof attrs.datacontenttype === 'string' && !mediaType(attrs.datacontenttype)) {
    throw new Refusal(400, `${where}: datacontenttype ${JSON.stringify(attrs.datacontenttype)} is not a media type`);
  }
}

function finish(event: Record<string, unknown>, limits: CloudEventsLimits, where: string): IngressEvent {
  const payload = Buffer.from(JSON.stringify(event));
  if (payload.length > limits.eventBytes) {
    throw new Refusal(413, `${where}: the event is ${payload.length} bytes as JSON; an event may be at most ${limits.eventBytes} bytes (the async invocation limit)`);
  }
  const id = event.id as string;
  const source = event.source as string;
  return { id, source, type: event.type as string, event, payload, idempotencyKey: cloudEventKey(source, id) };
}

/** One event in the JSON event format (a structured body, or a batch's member), checked and with null attributes dropped. */
function structuredEvent(doc: unknown, limits: CloudEventsLimits, where: string): IngressEvent {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Refusal(400, `${where}: a CloudEvent in the JSON format must be a JSON object`);
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(doc)) {
    // The JSON format: a null attribute is the same as an absent one.
    if (value === null) continue;
    if (name === 'data') {
      event.data = value;
      continue;
    }
    if (name === 'data_base64') {
      if (typeof value !== 'string' || !BASE64.test(value)) throw new Refusal(400, `${where}: data_base64 must be a base64 string`);
      event.data_base64 = value;
      continue;
    }
    if (!ATTRIBUTE_NAME.test(name)) throw new Refusal(400, `${where}: attribute name ${JSON.stringify(name)} is not valid: CloudEvents attribute names are lower-case letters and digits`);
    if (!CONTEXT.has(name)) {
      const intOk = typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
      if (typeof value !== 'string' && typeof value !== 'boolean' && !intOk) {
        throw new Refusal(400, `${where}: extension ${name} must be a string, a boolean or a 32-bit integer`);
      }
    }
    event[name] = value;
  }
  if ('data' in event && 'data_base64' in event) throw new Refusal(400, `${where}: an event may have data or data_base64, not both`);
  checkContext(event, where);
  return finish(event, limits, where);
}

/** Binary mode: the ce-* headers are the attributes, Content-Type the datacontenttype, the body the data. */
function binaryEvent(req: CloudEventsRequest, type: MIMEType | undefined, limits: CloudEventsLimits): IngressEvent {
  const attrs: Record<string, unknown> = {};
  for (const [header, raw] of Object.entries(req.headers)) {
    if (!header.startsWith('ce-')) continue;
    const name = header.slice(3);
    const value = one(raw);
    if (value === undefined) continue;
    if (!ATTRIBUTE_NAME.test(name)) throw new Refusal(400, `header ${header}: ${JSON.stringify(name)} is not a valid CloudEvents attribute name (lower-case letters and digits)`);
    // The data content type travels as Content-Type in binary mode.
    if (name === 'datacontenttype') continue;
    attrs[name] = decodeHeader(header, value);
  }
  if (req.contentType !== undefined) attrs.datacontenttype = req.contentType;
  checkContext(attrs, 'binary-mode event (ce-* headers)');
  const event: Record<string, unknown> = { specversion: attrs.specversion, id: attrs.id, source: attrs.source, type: attrs.type };
  for (const [name, value] of Object.entries(attrs)) if (!(name in event)) event[name] = value;
  if (req.body.length > 0) {
    if (type === undefined || isJsonType(type)) {
      // No Content-Type: the JSON event format's default, application/json.
      event.data = parseJson(req.body, 'the body (data declared as JSON)');
    } else if (type.type === 'text' && isUtf8(req.body)) {
      event.data = req.body.toString('utf8');
    } else {
      event.data_base64 = req.body.toString('base64');
    }
  }
  return finish(event, limits, 'binary-mode event');
}

function parse(req: CloudEventsRequest, limits: CloudEventsLimits): { mode: ContentMode; events: IngressEvent[] } {
  const type = req.contentType === undefined ? undefined : mediaType(req.contentType);
  if (req.contentType !== undefined && type === undefined) throw new Refusal(415, `Content-Type ${JSON.stringify(req.contentType)} is not a media type`);
  const essence = type?.essence;
  if (type && essence?.startsWith('application/cloudevents-batch')) {
    if (essence !== BATCH_TYPE) throw new Refusal(415, `batch format ${essence} is not supported; send ${BATCH_TYPE}`);
    checkCharset(type);
    const doc = parseJson(req.body, 'the batch');
    if (!Array.isArray(doc)) throw new Refusal(400, `a ${BATCH_TYPE} body must be a JSON array of events`);
    const max = limits.batchEvents ?? MAX_BATCH_EVENTS;
    if (doc.length > max) throw new Refusal(413, `a batch may hold at most ${max} events; this one holds ${doc.length}: send it as smaller batches (nothing of it was accepted)`);
    // Every event is checked before any is taken: a batch is accepted or refused whole.
    return { mode: 'batch', events: doc.map((e, i) => structuredEvent(e, limits, `batch event ${i}`)) };
  }
  if (type && essence?.startsWith('application/cloudevents')) {
    if (essence !== STRUCTURED_TYPE) throw new Refusal(415, `event format ${essence} is not supported; send ${STRUCTURED_TYPE}, or binary mode`);
    checkCharset(type);
    return { mode: 'structured', events: [structuredEvent(parseJson(req.body, 'the structured event'), limits, 'structured event')] };
  }
  if (!Object.keys(req.headers).some((h) => h.startsWith('ce-'))) {
    throw new Refusal(
      415,
      `not a CloudEvent: a ${essence ?? 'body without Content-Type'} with no ce-* headers. Send binary mode (ce-specversion, ce-id, ce-source and ce-type headers, the data as the body), structured mode (${STRUCTURED_TYPE}) or a batch (${BATCH_TYPE})`,
    );
  }
  return { mode: 'binary', events: [binaryEvent(req, type, limits)] };
}

/** Reads one HTTP request of the CloudEvents HTTP binding into the events to invoke, or why it is refused. */
export function parseCloudEvents(req: CloudEventsRequest, limits: CloudEventsLimits): CloudEventsParse {
  try {
    return { ok: true, ...parse(req, limits) };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, status: err.status, message: err.message };
    throw err;
  }
}
