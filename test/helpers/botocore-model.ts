// botocore's service model of Lambda (the JSON every AWS SDK is generated
// from, shipped inside the botocore package the AWS CLI bundles), and a
// strict validator of HTTP answers against an operation's output or error
// shape: what a response must look like for AWS's clients to read it as
// Lambda's. Stricter than the clients themselves (they ignore what they do
// not know): an unknown member, a wrong type, a value outside an enum, a
// string that breaks the model's pattern or length, a missing required
// member are all problems, so a typo in a route's answer fails a test.
// Pure apart from finding and reading the model file.
import { decodeMessages } from '../../src/streaming/event-stream.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface MemberRef {
  shape: string;
  location?: 'header' | 'headers' | 'statusCode' | 'querystring' | 'uri';
  locationName?: string;
  timestampFormat?: TimestampFormat;
  /** An event's member that is its whole payload (PayloadChunk's Payload). */
  eventpayload?: boolean;
}

export type TimestampFormat = 'iso8601' | 'unixTimestamp' | 'rfc822';

export interface Shape {
  type: 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'double' | 'float' | 'boolean' | 'timestamp' | 'blob';
  members?: Record<string, MemberRef>;
  required?: string[];
  member?: MemberRef;
  key?: MemberRef;
  value?: MemberRef;
  enum?: string[];
  pattern?: string;
  min?: number;
  max?: number;
  payload?: string;
  streaming?: boolean;
  /** An event stream (InvokeWithResponseStream's EventStream): its members are the events it may carry. */
  eventstream?: boolean;
  timestampFormat?: TimestampFormat;
  exception?: boolean;
  error?: { httpStatusCode: number; code?: string };
}

export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: { shape: string };
  output?: { shape: string };
  errors?: { shape: string }[];
}

export interface ServiceModel {
  metadata: { protocol: string; apiVersion: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

/** An HTTP answer as the validator reads it: header names in lower case, the body as text. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body's bytes, for answers that are not text (an event stream). */
  raw?: Buffer;
}

/**
 * Where the AWS CLI's bundled botocore (or boto3's own) keeps Lambda's model,
 * found by looking through the venv so a new botocore version or Python
 * version does not break the path. Newest API version directory wins.
 */
export function findLambdaModel(venv = resolve('.cache/awscli')): string | undefined {
  const lib = join(venv, 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib).filter((d) => d.startsWith('python')).sort().reverse()) {
    for (const botocore of ['awscli/botocore', 'botocore']) {
      const data = join(lib, py, 'site-packages', botocore, 'data', 'lambda');
      if (!existsSync(data)) continue;
      const version = readdirSync(data).filter((v) => existsSync(join(data, v, 'service-2.json'))).sort().reverse()[0];
      if (version !== undefined) return join(data, version, 'service-2.json');
    }
  }
  return undefined;
}

export function loadModel(path: string): ServiceModel {
  const model = JSON.parse(readFileSync(path, 'utf8')) as ServiceModel;
  for (const [name, op] of Object.entries(model.operations)) op.name = name;
  return model;
}

const patternCache = new Map<string, RegExp>();
/**
 * The model's patterns are Java regular expressions, and Lambda checks them
 * the Java way, against the whole value (String.matches), so they are
 * anchored here. Unicode mode for \p{L}; a pattern JS cannot read in that
 * mode is tried without it.
 */
export function patternRegExp(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = new RegExp(`^(?:${pattern})$`);
    }
    patternCache.set(pattern, re);
  }
  return re;
}

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/;
const RFC_822 = /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Problems of a JSON value against a shape, each as `path: what`. */
export function validateValue(model: ServiceModel, shapeName: string, value: unknown, path = '$', ref?: MemberRef): string[] {
  const shape = model.shapes[shapeName];
  if (shape === undefined) return [`${path}: the model has no shape ${shapeName}`];
  const problems: string[] = [];
  const want = (what: string) => [`${path}: expected ${what} (${shapeName}), got ${typeName(value)} ${JSON.stringify(value)?.slice(0, 80)}`];
  const bounds = (n: number, what: string) => {
    if (shape.min !== undefined && n < shape.min) problems.push(`${path}: ${what} ${n} is below the minimum ${shape.min} (${shapeName})`);
    if (shape.max !== undefined && n > shape.max) problems.push(`${path}: ${what} ${n} is above the maximum ${shape.max} (${shapeName})`);
  };
  switch (shape.type) {
    case 'structure': {
      if (typeName(value) !== 'object') return want('an object');
      const obj = value as Record<string, unknown>;
      const members = shape.members ?? {};
      for (const [key, v] of Object.entries(obj)) {
        const m = members[key];
        if (m === undefined || m.location !== undefined) {
          problems.push(`${path}: unknown member ${key} (${shapeName} has ${Object.keys(members).filter((k) => members[k]?.location === undefined).join(', ') || 'no body members'})`);
          continue;
        }
        if (v === null) {
          problems.push(`${path}.${key}: null (AWS sends no member rather than null)`);
          continue;
        }
        problems.push(...validateValue(model, m.shape, v, `${path}.${key}`, m));
      }
      for (const r of shape.required ?? []) {
        if (members[r]?.location === undefined && !(r in obj)) problems.push(`${path}: missing required member ${r} (${shapeName})`);
      }
      return problems;
    }
    case 'list': {
      if (!Array.isArray(value)) return want('an array');
      bounds(value.length, 'length');
      value.forEach((item, i) => problems.push(...validateValue(model, shape.member?.shape ?? '?', item, `${path}[${i}]`, shape.member)));
      return problems;
    }
    case 'map': {
      if (typeName(value) !== 'object') return want('an object (map)');
      const entries = Object.entries(value as Record<string, unknown>);
      bounds(entries.length, 'entries');
      for (const [k, v] of entries) {
        problems.push(...validateValue(model, shape.key?.shape ?? '?', k, `${path}{key ${JSON.stringify(k)}}`, shape.key));
        problems.push(...validateValue(model, shape.value?.shape ?? '?', v, `${path}[${JSON.stringify(k)}]`, shape.value));
      }
      return problems;
    }
    case 'string': {
      if (typeof value !== 'string') return want('a string');
      if (shape.enum !== undefined && !shape.enum.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of ${shape.enum.join(', ')} (${shapeName})`);
      bounds(value.length, 'length');
      if (shape.pattern !== undefined && !patternRegExp(shape.pattern).test(value)) {
        problems.push(`${path}: ${JSON.stringify(value)} does not match ${shapeName}'s pattern ${shape.pattern}`);
      }
      return problems;
    }
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return want(`an ${shape.type === 'long' ? 'integer (long)' : 'integer'}`);
      if (shape.type === 'integer' && (value > 2 ** 31 - 1 || value < -(2 ** 31))) problems.push(`${path}: ${value} does not fit a 32-bit integer`);
      bounds(value, 'value');
      return problems;
    }
    case 'double':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return want('a number');
      bounds(value, 'value');
      return problems;
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : want('a boolean');
    case 'timestamp': {
      // rest-json bodies carry epoch seconds unless the shape or member says otherwise.
      const format = ref?.timestampFormat ?? shape.timestampFormat ?? 'unixTimestamp';
      if (format === 'unixTimestamp') return typeof value === 'number' && Number.isFinite(value) ? [] : want('epoch seconds (a number)');
      if (format === 'iso8601') return typeof value === 'string' && ISO_8601.test(value) ? [] : want('an ISO 8601 timestamp');
      return typeof value === 'string' && RFC_822.test(value) ? [] : want('an RFC 822 timestamp');
    }
    case 'blob':
      return typeof value === 'string' && BASE64.test(value) && value.length % 4 === 0 ? [] : want('base64');
    default:
      return [`${path}: the validator does not know type ${String((shape as Shape).type)}`];
  }
}

function header(h: HttpAnswer['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
}

/** A header value's problems against its member's shape (headers are text: numbers and booleans are parsed). */
function validateHeader(model: ServiceModel, m: MemberRef, value: string, path: string): string[] {
  const shape = model.shapes[m.shape];
  switch (shape?.type) {
    case 'integer':
    case 'long':
      return /^-?\d+$/.test(value) ? validateValue(model, m.shape, Number(value), path, m) : [`${path}: header ${JSON.stringify(value)} is not an integer`];
    case 'boolean':
      return value === 'true' || value === 'false' ? [] : [`${path}: header ${JSON.stringify(value)} is not a boolean`];
    case 'timestamp': {
      const format = m.timestampFormat ?? shape.timestampFormat ?? 'rfc822';
      return validateValue(model, m.shape, format === 'unixTimestamp' ? Number(value) : value, path, { ...m, timestampFormat: format });
    }
    default:
      return validateValue(model, m.shape, value, path, m);
  }
}

/**
 * Problems of a successful answer against an operation's output: the status
 * code the operation declares, each header member present with a valid
 * value, and the body: the payload member's shape when the output names one
 * (a blob payload is any bytes), otherwise a JSON object of the body members
 * (an empty body where the output has none, or none are sent).
 */
export function validateOutput(model: ServiceModel, operation: string, answer: HttpAnswer): string[] {
  const op = model.operations[operation];
  if (op === undefined) return [`the model has no operation ${operation}`];
  const problems: string[] = [];
  const expected = op.http.responseCode ?? 200;
  const output = op.output === undefined ? undefined : model.shapes[op.output.shape];
  // An output with a statusCode member reads the status into it (Invoke: 200, 202 or 204): any 2xx is an answer.
  const statusMember = Object.values(output?.members ?? {}).some((m) => m.location === 'statusCode');
  if (statusMember ? answer.status < 200 || answer.status > 299 : answer.status !== expected) problems.push(`status ${answer.status}, the model says ${statusMember ? '2xx' : expected}`);
  if (op.output === undefined) {
    if (answer.body.trim() !== '' && answer.body.trim() !== '{}') problems.push(`a body where ${operation} has no output: ${answer.body.slice(0, 120)}`);
    return problems;
  }
  const shape = model.shapes[op.output.shape];
  if (shape === undefined) return [`the model has no shape ${op.output.shape}`];
  for (const [name, m] of Object.entries(shape.members ?? {})) {
    if (m.location === 'header') {
      const v = header(answer.headers, m.locationName ?? name);
      if (v !== undefined) problems.push(...validateHeader(model, m, v, `header ${m.locationName ?? name}`));
    }
  }
  if (shape.payload !== undefined) {
    const m = shape.members?.[shape.payload];
    const payloadShape = m ? model.shapes[m.shape] : undefined;
    if (payloadShape?.eventstream === true) problems.push(...validateEventStream(model, payloadShape, answer.raw ?? Buffer.from(answer.body)));
    else if (payloadShape?.type === 'structure') problems.push(...validateJsonBody(model, m?.shape ?? '?', answer.body));
    return problems;
  }
  const bodyMembers = Object.values(shape.members ?? {}).filter((m) => m.location === undefined);
  if (bodyMembers.length === 0 && answer.body.trim() === '') return problems;
  problems.push(...validateJsonBody(model, op.output.shape, answer.body));
  return problems;
}

/**
 * An event-stream body against its shape: whole messages only, each an event
 * the shape names; an event whose member is its payload (a blob) may carry
 * any bytes, any other's payload is that event's JSON.
 */
function validateEventStream(model: ServiceModel, shape: Shape, raw: Buffer): string[] {
  let decoded: ReturnType<typeof decodeMessages>;
  try {
    decoded = decodeMessages(raw);
  } catch (err) {
    return [`the event stream does not decode: ${(err as Error).message}`];
  }
  const problems: string[] = decoded.rest.length > 0 ? [`${decoded.rest.length} bytes after the last whole message`] : [];
  if (decoded.messages.length === 0) problems.push('no event in the stream');
  for (const [i, msg] of decoded.messages.entries()) {
    const type = String(msg.headers[':event-type']);
    if (msg.headers[':message-type'] !== 'event') problems.push(`message ${i}: :message-type ${String(msg.headers[':message-type'])}, not event`);
    const member = shape.members?.[type];
    const event = member ? model.shapes[member.shape] : undefined;
    if (member === undefined || event === undefined) {
      problems.push(`message ${i}: event ${type} is not one of ${Object.keys(shape.members ?? {}).join(', ')}`);
      continue;
    }
    const whole = Object.values(event.members ?? {}).find((m) => m.eventpayload === true);
    if (whole === undefined) problems.push(...validateJsonBody(model, member.shape, msg.payload.toString('utf8')).map((p) => `${type}: ${p}`));
  }
  return problems;
}

function validateJsonBody(model: ServiceModel, shapeName: string, body: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return [`the body is not JSON: ${body.slice(0, 120)}`];
  }
  return validateValue(model, shapeName, json);
}

/**
 * Problems of an error answer against the error the model gives it: the
 * code in x-amzn-ErrorType (what botocore reads first; anything after a
 * colon is ignored, as botocore does), the status the error shape declares,
 * and the body against the error's members. botocore reads an error's
 * message from `message` or `Message` whichever the shape names, so the
 * other spelling is accepted for it too. Errors the model does not define
 * (AccessDeniedException and the like, common to every AWS service) are
 * checked for code, status and a `{Type?, message}` body.
 */
export function validateError(model: ServiceModel, code: string, answer: HttpAnswer, commonStatus?: number): string[] {
  const problems: string[] = [];
  const sent = header(answer.headers, 'x-amzn-errortype')?.split(':')[0];
  if (sent !== code) problems.push(`x-amzn-ErrorType ${JSON.stringify(sent)}, expected ${code}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return [...problems, `the error body is not JSON: ${answer.body.slice(0, 120)}`];
  }
  if (typeName(body) !== 'object') return [...problems, `the error body is not an object`];
  const shape = model.shapes[code];
  if (shape === undefined || shape.exception !== true) {
    if (commonStatus !== undefined && answer.status !== commonStatus) problems.push(`status ${answer.status}, expected ${commonStatus}`);
    const { message, Message, Type, ...rest } = body as Record<string, unknown>;
    if (typeof (message ?? Message) !== 'string') problems.push('no message');
    if (Type !== undefined && Type !== 'User' && Type !== 'Service') problems.push(`Type ${JSON.stringify(Type)}`);
    if (Object.keys(rest).length > 0) problems.push(`unknown members ${Object.keys(rest).join(', ')}`);
    return problems;
  }
  if (shape.error && answer.status !== shape.error.httpStatusCode) problems.push(`status ${answer.status}, the model says ${shape.error.httpStatusCode} for ${code}`);
  const obj = { ...(body as Record<string, unknown>) };
  const names = Object.keys(shape.members ?? {});
  const spelled = names.find((n) => n.toLowerCase() === 'message');
  for (const alt of ['message', 'Message']) {
    if (spelled !== undefined && alt !== spelled && alt in obj && !(spelled in obj)) {
      obj[spelled] = obj[alt];
      delete obj[alt];
    }
  }
  if (spelled !== undefined && typeof obj[spelled] !== 'string') problems.push(`no ${spelled}`);
  problems.push(...validateValue(model, code, obj, '$').map((p) => `error body ${p}`));
  for (const [name, m] of Object.entries(shape.members ?? {})) {
    if (m.location !== 'header') continue;
    const v = header(answer.headers, m.locationName ?? name);
    if (v !== undefined) problems.push(...validateHeader(model, m, v, `header ${m.locationName ?? name}`));
  }
  return problems;
}

/** A JSON body value as an SDK writes it: blobs (Buffers, at any depth) in base64. */
function wire(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(wire);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wire(v)]));
  return value;
}

/** An operation's request: the input's members placed where the model says (path, query, headers, JSON body or raw payload). */
export interface ModelRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/**
 * Builds a request as AWS's SDKs would from an operation's input: uri
 * members into the path ({Name+} keeps slashes), querystring members into
 * the query, header members into headers, a payload member as the raw body,
 * and the other members as the JSON body. Throws on a member the input does
 * not have, so a test cannot send what no SDK would.
 */
export function buildRequest(model: ServiceModel, operation: string, input: Record<string, unknown>): ModelRequest {
  const op = model.operations[operation];
  if (op === undefined) throw new Error(`the model has no operation ${operation}`);
  const shape = op.input ? model.shapes[op.input.shape] : undefined;
  const members = shape?.members ?? {};
  const [rawPath = '', rawQuery] = op.http.requestUri.split('?');
  let path = rawPath;
  const query = new URLSearchParams(rawQuery);
  const headers: Record<string, string> = {};
  const json: Record<string, unknown> = {};
  let body: string | Buffer | undefined;
  for (const [name, value] of Object.entries(input)) {
    const m = members[name];
    if (m === undefined) throw new Error(`${operation}'s input ${op.input?.shape ?? '(none)'} has no member ${name}`);
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (m.location === 'uri') {
      const key = m.locationName ?? name;
      path = path.replace(`{${key}+}`, text.split('/').map(encodeURIComponent).join('/')).replace(`{${key}}`, encodeURIComponent(text));
    } else if (m.location === 'querystring') {
      if (Array.isArray(value)) for (const v of value) query.append(m.locationName ?? name, String(v));
      else query.set(m.locationName ?? name, text);
    } else if (m.location === 'header') {
      headers[(m.locationName ?? name).toLowerCase()] = text;
    } else if (shape?.payload === name) {
      body = Buffer.isBuffer(value) ? value : typeof value === 'string' ? value : JSON.stringify(value);
    } else {
      json[name] = wire(value);
    }
  }
  if (/\{[A-Za-z]+\+?\}/.test(path)) throw new Error(`${operation}: ${path} still has a path member to fill`);
  if (body === undefined && Object.keys(json).length > 0) body = JSON.stringify(json);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const q = query.toString();
  return { method: op.http.method, path: q === '' ? path : `${path}?${q}`, headers, ...(body !== undefined ? { body } : {}) };
}
