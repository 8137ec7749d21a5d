// Lambda function URL events (payload format 2.0) and the mapping of a
// function's answer back to HTTP, as function URLs do it. Pure: the plugin
// (plugins/function-url.ts, through function-url-request.ts) reads the
// request, this decides what the function sees.
//
// What AWS's 2.0 payload keeps that an HTTP framework would lose: rawPath
// and requestContext.http.path are the path as sent, percent-encoding and
// all; a header sent on several lines is one value joined with "," (Node's
// own join is ", "); cookies come from every Cookie line. What the URL's
// front door adds, as Lambda documents it for its HTTP endpoints:
// x-forwarded-for is the client's own list (unverified) with the connecting
// peer appended last (sourceIp is that peer), x-forwarded-proto and
// x-forwarded-port say how the gateway was reached (a client's own are
// replaced), x-amzn-trace-id is the client's when it is a valid X-Ray trace
// header, else a fresh one. apiId is the URL's id; see requestDomain.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { LATEST } from '../api/function.js';

export interface HttpRequestLike {
  method: string;
  /** Path as the function sees it, as sent (percent-encoding kept): what follows /fn/{name} in the request target, always starting with '/'. */
  rawPath: string;
  rawQueryString: string;
  /** Every header line's value, by lower-case name (Node's headersDistinct): several lines of one name are joined with ','. */
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer | undefined;
  /** The address of the connection's peer. */
  sourceIp: string;
  protocol: string;
  /** How the gateway was reached: x-forwarded-proto. */
  scheme: 'http' | 'https';
  /** The port the gateway was reached on: x-forwarded-port. */
  localPort: number;
  /** The Host the client named, without its port (empty when it sent none). */
  domainName: string;
  /** The function URL's id (functionUrlId). */
  urlId: string;
  /** The trace header to use when the client sent no valid one (newTraceId); a function is called only then, so a client's own header costs no random bytes. */
  freshTraceId: string | (() => string);
  requestId: string;
  timeEpochMs: number;
}

export interface FunctionUrlEvent {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: '$default';
    stage: '$default';
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]+\+(json|xml)))/i;

export function isTextual(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXTUAL.test(contentType.trim());
}

function joinHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length > 0 ? v.join(',') : undefined) : v;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The requestContext.time format: 25/Nov/2026:06:03:03 +0000. */
export function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * rawPath and rawQueryString from the request target as sent
 * (/fn/NAME[:ALIAS][/PATH][?QUERY]): the route's own segment is dropped, the
 * rest kept byte for byte, so /fn/f/a%2Fb is /a%2Fb and not /a/b.
 */
export function functionUrlPath(target: string): { rawPath: string; rawQueryString: string } {
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const rawQueryString = q >= 0 ? target.slice(q + 1) : '';
  // The route's segment: /fn/ and the name up to the next slash.
  const afterName = path.startsWith('/fn/') ? path.indexOf('/', 4) : -1;
  return { rawPath: afterName >= 0 ? path.slice(afterName) : '/', rawQueryString };
}

const URL_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The id of a function URL, as the <url-id> of Lambda's
 * <url-id>.lambda-url.<region>.on.aws: 32 lowercase letters and digits,
 * derived from the function's ARN and the alias (none, or $LATEST, for the
 * function's own URL), so it is the same on every gateway and every call.
 */
export function functionUrlId(functionArn: string, qualifier: string | undefined): string {
  const named = qualifier === undefined || qualifier === LATEST ? functionArn : `${functionArn}:${qualifier}`;
  const digest = createHash('sha256').update(named).digest();
  let id = '';
  for (let i = 0; i < 32; i++) id += URL_ID_ALPHABET[(digest[i] ?? 0) % URL_ID_ALPHABET.length];
  return id;
}

/**
 * requestContext.apiId and domainPrefix. On Lambda both are the URL's id,
 * the first label of its domain. Here apiId is always the URL's id; the
 * domainPrefix is the first label of the Host the client named when that is
 * a DNS name with a dot (fn.example.com: fn), and the URL's id when the Host
 * is an IP address or a bare name (127.0.0.1, localhost, a Service name),
 * whose first label says nothing of the URL.
 */
export function requestDomain(hostname: string, urlId: string): { apiId: string; domainPrefix: string } {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const named = bare.includes('.') && isIP(bare) === 0;
  return { apiId: urlId, domainPrefix: named ? (bare.split('.')[0] ?? urlId) : urlId };
}

/** The peer as sourceIp shows it: an IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) as a.b.c.d. */
export function peerAddress(remote: string | undefined): string {
  if (remote === undefined) return '';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  return m?.[1] ?? remote;
}

const TRACE_ROOT = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const TRACE_FIELD = /^[A-Za-z][A-Za-z0-9_-]*=[^;\s]*$/;

/** Whether a client's X-Amzn-Trace-Id is an X-Ray trace header worth keeping: key=value fields, one of them a well-formed Root. */
export function isTraceHeader(value: string | undefined): value is string {
  if (value === undefined || value.length > 512) return false;
  const fields = value.split(';');
  return fields.every((f) => TRACE_FIELD.test(f)) && fields.some((f) => TRACE_ROOT.test(f));
}

/** A fresh X-Ray trace header, Root=1-<epoch seconds, 8 hex>-<24 hex of `random`> (12 bytes). */
export function newTraceId(epochMs: number, random: Buffer): string {
  const seconds = Math.floor(epochMs / 1000).toString(16).padStart(8, '0');
  return `Root=1-${seconds}-${random.subarray(0, 12).toString('hex').padEnd(24, '0')}`;
}

export function buildFunctionUrlEvent(req: HttpRequestLike): FunctionUrlEvent {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [k, v] of Object.entries(req.headers)) {
    const key = k.toLowerCase();
    if (key === 'cookie') {
      for (const line of Array.isArray(v) ? v : v !== undefined ? [v] : []) cookies.push(...line.split(/;\s*/).filter((c) => c.length > 0));
      continue;
    }
    const value = joinHeader(v);
    if (value !== undefined) headers[key] = value;
  }
  // What the URL's front door says of the request; a client's own list of forwarders is kept, its other claims are not.
  const forwardedFor = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor !== undefined && forwardedFor.trim() !== '' ? `${forwardedFor}, ${req.sourceIp}` : req.sourceIp;
  headers['x-forwarded-proto'] = req.scheme;
  headers['x-forwarded-port'] = String(req.localPort);
  if (!isTraceHeader(headers['x-amzn-trace-id'])) headers['x-amzn-trace-id'] = typeof req.freshTraceId === 'function' ? req.freshTraceId() : req.freshTraceId;

  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(req.rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;
  const { apiId, domainPrefix } = requestDomain(req.domainName, req.urlId);

  const event: FunctionUrlEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.rawPath,
    rawQueryString: req.rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId,
      domainName: req.domainName,
      domainPrefix,
      http: { method: req.method.toUpperCase(), path: req.rawPath, protocol: req.protocol, sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: req.requestId,
      routeKey: '$default',
      stage: '$default',
      time: requestTime(req.timeEpochMs),
      timeEpoch: req.timeEpochMs,
    },
    isBase64Encoded: false,
  };
  if (req.body && req.body.length > 0) {
    const textual = isTextual(headers['content-type']);
    event.body = req.body.toString(textual ? 'utf8' : 'base64');
    event.isBase64Encoded = !textual;
  }
  return event;
}

export interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A function's answer's headers as HTTP gets them: lower-case names, values as text, null and undefined left out. */
export function answerHeaders(raw: Record<string, unknown>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
  return headers;
}

/**
 * A function URL answer: an object with statusCode is taken as a response
 * ({statusCode, headers, cookies, body, isBase64Encoded}); any other JSON
 * value is a 200 whose JSON body is that value.
 */
export function mapFunctionUrlResponse(payload: Buffer): HttpResponseLike {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: payload };
  }
  if (!isRecord(value) || !('statusCode' in value)) {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: payload };
  }
  const statusCode = Number(value.statusCode);
  const headers = isRecord(value.headers) ? answerHeaders(value.headers) : {};
  const cookies = Array.isArray(value.cookies) ? value.cookies.map(String) : [];
  let body: Buffer;
  if (value.body === undefined || value.body === null) body = Buffer.alloc(0);
  else if (typeof value.body === 'string') body = Buffer.from(value.body, value.isBase64Encoded === true ? 'base64' : 'utf8');
  else body = Buffer.from(JSON.stringify(value.body));
  if (headers['content-type'] === undefined && body.length > 0) headers['content-type'] = 'application/json';
  return { statusCode: Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 599 ? statusCode : 502, headers, cookies, body };
}
