// Lambda function URL events (payload format 2.0) and the mapping of a
// function's answer back to HTTP, as function URLs do it. Pure.

export interface HttpRequestLike {
  method: string;
  /** Path as the function sees it: what follows /fn/{name}, always starting with '/'. */
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer | undefined;
  sourceIp: string;
  protocol: string;
  domainName: string;
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
  return Array.isArray(v) ? v.join(',') : v;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The requestContext.time format: 25/Nov/2026:06:03:03 +0000. */
export function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function buildFunctionUrlEvent(req: HttpRequestLike): FunctionUrlEvent {
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [k, v] of Object.entries(req.headers)) {
    const key = k.toLowerCase();
    const value = joinHeader(v);
    if (value === undefined) continue;
    if (key === 'cookie') {
      cookies = value.split(/;\s*/).filter((c) => c.length > 0);
      continue;
    }
    headers[key] = value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(req.rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;

  const event: FunctionUrlEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.rawPath,
    rawQueryString: req.rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: req.domainName.split('.')[0] ?? req.domainName,
      domainName: req.domainName,
      domainPrefix: req.domainName.split('.')[0] ?? req.domainName,
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
  const headers: Record<string, string> = {};
  if (isRecord(value.headers)) {
    for (const [k, v] of Object.entries(value.headers)) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
  }
  const cookies = Array.isArray(value.cookies) ? value.cookies.map(String) : [];
  let body: Buffer;
  if (value.body === undefined || value.body === null) body = Buffer.alloc(0);
  else if (typeof value.body === 'string') body = Buffer.from(value.body, value.isBase64Encoded === true ? 'base64' : 'utf8');
  else body = Buffer.from(JSON.stringify(value.body));
  if (headers['content-type'] === undefined && body.length > 0) headers['content-type'] = 'application/json';
  return { statusCode: Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 599 ? statusCode : 502, headers, cookies, body };
}
