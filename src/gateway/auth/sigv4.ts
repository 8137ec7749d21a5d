// AWS Signature Version 4 on the receiving side: parse the Authorization
// header, check the date and scope, then sign the request as received with
// the caller's secret (smithy's signer, the one AWS's JavaScript SDK uses)
// and compare. The parsing and checks are pure and unit-tested.
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { constantTimeEqual } from './callers.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS rejects requests whose time differs from its own by more than this. */
export const MAX_SKEW_MS = 15 * 60_000;
export const SIGNING_SERVICE = 'lambda';
const CONTENT_SHA256 = 'x-amz-content-sha256';

export interface SigV4Authorization {
  accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH = /^AWS4-HMAC-SHA256\s+(.*)$/;

export function isSigV4(authorization: string | undefined): boolean {
  return authorization !== undefined && authorization.startsWith(`${SIGV4_ALGORITHM} `);
}

/** undefined when the header is not a well-formed SigV4 Authorization. */
export function parseSigV4Authorization(header: string): SigV4Authorization | undefined {
  const m = AUTH.exec(header.trim());
  if (!m?.[1]) return undefined;
  const parts = new Map<string, string>();
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = parts.get('Credential')?.split('/');
  const signedHeaders = parts.get('SignedHeaders')?.split(';');
  const signature = parts.get('Signature');
  if (!credential || credential.length !== 5 || credential[4] !== 'aws4_request' || !signedHeaders || !signature) return undefined;
  const [accessKeyId, scopeDate, region, service] = credential as [string, string, string, string, string];
  if (!/^\d{8}$/.test(scopeDate) || accessKeyId === '' || region === '' || service === '') return undefined;
  if (!/^[a-f0-9]{64}$/.test(signature)) return undefined;
  if (signedHeaders.some((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h)) || !signedHeaders.includes('host')) return undefined;
  return { accessKeyId, scopeDate, region, service, signedHeaders, signature };
}

/** X-Amz-Date is ISO 8601 basic: 20240102T030405Z. */
export function parseAmzDate(v: string | undefined): Date | undefined {
  const m = v === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== d ? undefined : date;
}

export type ScopeCheck = { ok: true; signingDate: Date } | { ok: false; message: string };

/** The checks that need no secret: date present and fresh, scope matching it, service lambda. */
export function checkScope(auth: SigV4Authorization, amzDate: string | undefined, nowMs: number): ScopeCheck {
  const date = parseAmzDate(amzDate);
  if (!date) return { ok: false, message: 'X-Amz-Date must be present and signed, as YYYYMMDDTHHMMSSZ.' };
  if (!auth.signedHeaders.includes('x-amz-date')) return { ok: false, message: 'X-Amz-Date must be among the signed headers.' };
  if (Math.abs(nowMs - date.getTime()) > MAX_SKEW_MS) {
    return { ok: false, message: `Signature expired: ${amzDate} is more than 15 minutes from the server's time.` };
  }
  if ((amzDate ?? '').slice(0, 8) !== auth.scopeDate) return { ok: false, message: 'The credential scope date does not match X-Amz-Date.' };
  if (auth.service !== SIGNING_SERVICE) return { ok: false, message: `Credential should be scoped to correct service: '${SIGNING_SERVICE}'.` };
  return { ok: true, signingDate: date };
}

/**
 * Headers that change what a call does must be signed when present: every
 * x-amz-* header (X-Amz-Invocation-Type, X-Amz-Log-Type, X-Amz-Client-Context,
 * X-Amz-Security-Token, ...) and Hearth's own (X-Hearth-*, and Prefer, which
 * queues a /fn call). Otherwise a captured signed sync call could be replayed
 * as Event, with its logs, or with a forged client context. AWS's SDKs and
 * CLI sign every header they send but a fixed few (User-Agent, X-Amzn-Trace-Id,
 * Expect, ...), none of which is among these.
 */
export function mustBeSigned(header: string): boolean {
  const h = header.toLowerCase();
  return h.startsWith('x-amz-') || h.startsWith('x-hearth-') || h === 'prefer';
}

/** Names of the headers present that must be signed and are not, in the order received. */
export function unsignedHeaders(auth: SigV4Authorization, headers: Record<string, unknown>): string[] {
  return Object.keys(headers)
    .map((h) => h.toLowerCase())
    .filter((h) => mustBeSigned(h) && !auth.signedHeaders.includes(h));
}

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as received (still percent-encoded). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Payload hash the client signed, when it sent one as a signed header. */
export function signedPayloadHash(auth: SigV4Authorization, headers: ReceivedRequest['headers']): string | undefined {
  if (!auth.signedHeaders.includes(CONTENT_SHA256)) return undefined;
  const v = headers[CONTENT_SHA256];
  return typeof v === 'string' ? v : undefined;
}

export function payloadMatches(hash: string, body: Buffer | undefined): boolean {
  return /^[a-f0-9]{64}$/.test(hash) && constantTimeEqual(hash, createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex'));
}

function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    // SigV4 encodes a space as %20, never +, so + stays literal here.
    const k = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return query;
}

/**
 * Signs the received request again with `secretAccessKey` and compares. When
 * the client signed X-Amz-Content-Sha256 the body is not needed here (the
 * caller checks it against that hash once it has arrived); otherwise the body
 * is hashed as part of the signature.
 */
export async function verifySignature(
  req: ReceivedRequest,
  auth: SigV4Authorization,
  secretAccessKey: string,
  signingDate: Date,
  body: Buffer | undefined,
): Promise<boolean> {
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const v = req.headers[name];
    if (v === undefined) return false;
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const q = req.url.indexOf('?');
  let query: Record<string, string | string[]>;
  try {
    query = parseQuery(q >= 0 ? req.url.slice(q + 1) : '');
  } catch {
    return false;
  }
  const signer = sigV4Signer({ service: auth.service, region: auth.region, accessKeyId: auth.accessKeyId, secretAccessKey });
  const request = new HttpRequest({
    method: req.method,
    protocol: 'http:',
    hostname: headers.host ?? '',
    path: q >= 0 ? req.url.slice(0, q) : req.url,
    query,
    headers,
    ...(body && body.length > 0 ? { body } : {}),
  });
  const signed = await signer.sign(request, {
    signingDate,
    signingRegion: auth.region,
    signingService: auth.service,
    // Sign exactly what the client signed, including headers smithy would otherwise skip.
    signableHeaders: new Set(auth.signedHeaders),
  });
  const produced = parseSigV4Authorization(String(signed.headers.authorization ?? ''));
  return produced !== undefined && produced.signedHeaders.join(';') === auth.signedHeaders.join(';') && constantTimeEqual(produced.signature, auth.signature);
}

export interface SignerOptions {
  service: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** false for S3, whose canonical path is encoded once, not twice as every other service's. */
  uriEscapePath?: boolean;
}

/** The one SigV4 signer (smithy's, as AWS's SDKs sign): the gateway checks callers with it and S3Uploads signs its requests to the store. */
export function sigV4Signer(opts: SignerOptions): SignatureV4 {
  return new SignatureV4({
    service: opts.service,
    region: opts.region,
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    sha256: Sha256,
    applyChecksum: false,
    uriEscapePath: opts.uriEscapePath ?? true,
  });
}

export interface OutgoingRequest {
  method: string;
  url: URL;
  /** Signed as given (lower-case names); x-amz-content-sha256, when present, is the payload hash signed. */
  headers: Record<string, string>;
}

/** The headers to send `req` with: its own plus host, X-Amz-Date and Authorization. */
export async function signOutgoing(signer: SignatureV4, req: OutgoingRequest, signingDate = new Date()): Promise<Record<string, string>> {
  const query: Record<string, string> = {};
  for (const [k, v] of req.url.searchParams) query[k] = v;
  const signed = await signer.sign(
    new HttpRequest({
      method: req.method,
      protocol: req.url.protocol,
      hostname: req.url.hostname,
      ...(req.url.port !== '' ? { port: Number(req.url.port) } : {}),
      path: req.url.pathname,
      query,
      headers: { ...req.headers, host: req.url.host },
    }),
    { signingDate },
  );
  return Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, String(v)]));
}
