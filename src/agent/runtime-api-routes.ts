// The HTTP face of the Lambda Runtime API (2018-06-01): parses the few
// routes by hand (this is the hot path) and hands them to the agent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue, readBody, sendJson } from './http-io.js';
import { RUNTIME_API_ERRORS } from './lambda-errors.js';
import { ERROR_TYPE_TRAILER, RESPONSE_MODE_HEADER } from '../streaming/response-stream.js';

/** What the routes need from the agent. */
export interface RuntimeApi {
  onNext(res: ServerResponse): void;
  onResponse(id: string, body: Buffer, tooLarge: boolean, res: ServerResponse): void;
  /** A response the runtime streams (Lambda-Runtime-Function-Response-Mode: streaming): the body is read as it comes. */
  onStreamResponse(id: string, req: IncomingMessage, res: ServerResponse): void;
  onError(id: string, body: Buffer, errorTypeHeader: string | undefined, handled: boolean, res: ServerResponse): void;
  onInitError(body: Buffer, errorTypeHeader: string | undefined, res: ServerResponse): void;
  responseLimitBytes(): number;
  errorLimitBytes(): number;
}

const PREFIX = '/2018-06-01/runtime/';
const INVOCATION = 'invocation/';
export const ERROR_TYPE_HEADER = 'lambda-runtime-function-error-type';
/** Set by Hearth's Node runtime for callback(err): Lambda reports those as Handled. */
export const HANDLED_HEADER = 'x-hearth-error-handled';

export function routeRuntimeApi(api: RuntimeApi, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  if (!path.startsWith(PREFIX)) return notFound(req, res);
  const rest = path.slice(PREFIX.length);

  if (rest === 'invocation/next') {
    if (req.method !== 'GET') return methodNotAllowed(req, res);
    // The long poll has no body; drain anything sent so keep-alive still works.
    req.resume();
    api.onNext(res);
    return;
  }
  if (rest === 'init/error') {
    if (req.method !== 'POST') return methodNotAllowed(req, res);
    void readBody(req, api.errorLimitBytes()).then(
      (b) => api.onInitError(b.body, headerValue(req, ERROR_TYPE_HEADER), res),
      () => res.destroy(),
    );
    return;
  }
  if (rest.startsWith(INVOCATION)) {
    const tail = rest.slice(INVOCATION.length);
    const slash = tail.indexOf('/');
    const id = slash > 0 ? decodeId(tail.slice(0, slash)) : '';
    if (id === undefined) {
      // A runtime's malformed path must cost it a 400, never the agent its process.
      req.resume();
      return sendJson(res, 400, RUNTIME_API_ERRORS.invalidRequestId);
    }
    const verb = slash > 0 ? tail.slice(slash + 1) : '';
    if (id !== '' && (verb === 'response' || verb === 'error')) {
      if (req.method !== 'POST') return methodNotAllowed(req, res);
      if (verb === 'response' && isStreamedResponse(req)) {
        api.onStreamResponse(id, req, res);
      } else if (verb === 'response') {
        void readBody(req, api.responseLimitBytes()).then(
          (b) => api.onResponse(id, b.body, b.tooLarge, res),
          () => res.destroy(),
        );
      } else {
        void readBody(req, api.errorLimitBytes()).then(
          (b) => {
            if (b.tooLarge) return sendJson(res, 413, RUNTIME_API_ERRORS.payloadTooLarge(api.errorLimitBytes()));
            api.onError(id, b.body, headerValue(req, ERROR_TYPE_HEADER), headerValue(req, HANDLED_HEADER)?.toLowerCase() === 'true', res);
          },
          () => res.destroy(),
        );
      }
      return;
    }
  }
  notFound(req, res);
}

/**
 * Whether a /response post is a stream: Node's runtime client says so with
 * the response-mode header; aws-lambda-go says nothing but posts every answer
 * chunked with Lambda's error trailers declared (a Read error mid-way arrives
 * there). Either is read as it comes; a caller that cannot stream gets it
 * buffered, so a plain answer posted so loses nothing.
 */
export function isStreamedResponse(req: Pick<IncomingMessage, 'headers'>): boolean {
  const mode = req.headers[RESPONSE_MODE_HEADER];
  if (typeof mode === 'string' && mode.toLowerCase() === 'streaming') return true;
  const trailer = req.headers.trailer;
  return typeof trailer === 'string' && trailer.toLowerCase().split(',').some((t) => t.trim() === ERROR_TYPE_TRAILER);
}

function decodeId(raw: string): string | undefined {
  // A UUID, as the agent gives them, has nothing to decode (the test for a percent sign is cheaper than a try and a decode on every post).
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  sendJson(res, 404, RUNTIME_API_ERRORS.notFound);
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  sendJson(res, 405, RUNTIME_API_ERRORS.methodNotAllowed);
}
