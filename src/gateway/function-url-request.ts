// What a function URL event is built from, read off the request as it
// arrived: the request target as sent (not fastify's decoded params), every
// header line (headersDistinct, not Node's ", "-joined headers), the peer and
// the local port of the connection. The decisions are
// function-url-event.ts's; this is the I/O edge (it also draws the random
// part of a fresh trace id).
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { withoutCredentials } from './auth/credential-headers.js';
import { functionUrlPath, newTraceId, peerAddress, type HttpRequestLike } from './function-url-event.js';
import { xrayHeaderOfTraceparent } from '../tracing/trace-context.js';

export function functionUrlRequest(req: FastifyRequest, urlId: string, now = Date.now(), traceparent?: string): HttpRequestLike {
  const { rawPath, rawQueryString } = functionUrlPath(req.raw.url ?? '/');
  // A request made with fastify's inject() (tests) has no headersDistinct: its joined headers stand in.
  const lines = (req.raw.headersDistinct as Record<string, string[]> | undefined) ?? req.headers;
  return {
    method: req.method,
    rawPath,
    rawQueryString,
    // Hearth's own credentials are the platform's, never the function's.
    headers: withoutCredentials(lines, req.hearthCredential),
    body: Buffer.isBuffer(req.body) ? req.body : undefined,
    sourceIp: peerAddress(req.raw.socket.remoteAddress),
    protocol: `HTTP/${req.raw.httpVersion}`,
    scheme: req.protocol,
    localPort: req.raw.socket.localPort ?? 0,
    domainName: req.headers.host !== undefined ? req.hostname : '',
    urlId,
    // The gateway's span names the trace when there is one, so the event's header and the spans agree.
    // Drawn only when the event needs one (the client sent no valid X-Amzn-Trace-Id).
    freshTraceId: () => xrayHeaderOfTraceparent(traceparent) ?? newTraceId(now, randomBytes(12)),
    requestId: req.id,
    timeEpochMs: now,
  };
}
