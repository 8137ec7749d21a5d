// The agent's HTTP invoke endpoint for callers in other processes (the
// dispatcher reaching a pod), on the path of AWS's runtime interface
// emulator so benchmarks can point the same client at either.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvokeRequest, InvokeResult } from './invocation.js';
import { INVOKE_PATH, requestFromHeaders, resultToHeaders } from './invoke-headers.js';
import { readBody, sendJson } from './http-io.js';

export interface Invokable {
  readonly state: string;
  readonly timeoutSeconds: number;
  readonly functionArn: string;
  invoke(req: InvokeRequest): Promise<InvokeResult>;
}

export interface InvokeServer {
  address: { host: string; port: number; url: string };
  close(): Promise<void>;
}

export async function startInvokeServer(target: Invokable, host: string, port: number, payloadLimit: number): Promise<InvokeServer> {
  const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => {
    void handle(target, payloadLimit, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    address: { host: addr.address, port: addr.port, url: `http://${urlHost}:${addr.port}` },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(target: Invokable, payloadLimit: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    req.resume();
    return sendJson(res, 200, { status: 'ok' });
  }
  if (path === '/readyz') {
    req.resume();
    const ready = target.state === 'ready';
    return sendJson(res, ready ? 200 : 503, { status: target.state });
  }
  if (path !== INVOKE_PATH) {
    req.resume();
    return sendJson(res, 404, { errorMessage: 'Not Found', errorType: 'NotFound' });
  }
  if (req.method !== 'POST') {
    req.resume();
    return sendJson(res, 405, { errorMessage: 'Method Not Allowed', errorType: 'MethodNotAllowed' });
  }
  const body = await readBody(req, payloadLimit);
  if (body.tooLarge) {
    return sendJson(res, 413, {
      errorMessage: `${body.bytes} byte payload is too large for the RequestResponse invocation type (limit ${payloadLimit} bytes)`,
      errorType: 'RequestTooLargeException',
    });
  }
  const invokeReq = requestFromHeaders(req.headers, body.body, { timeoutSeconds: target.timeoutSeconds, functionArn: target.functionArn });
  const result = await target.invoke(invokeReq);
  if (res.destroyed) return;
  res.writeHead(200, { ...resultToHeaders(result, invokeReq.requestId), 'content-length': result.payload.length });
  res.end(result.payload);
}
