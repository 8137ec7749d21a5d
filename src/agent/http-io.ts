// Small node:http helpers shared by the Runtime API and the invoke endpoint.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ReadBody {
  body: Buffer;
  /** The body was longer than the limit; `body` is then empty and the rest was drained. */
  tooLarge: boolean;
  bytes: number;
}

/**
 * Reads a body up to `limit` bytes. A longer body is drained rather than cut
 * off, so the sender sees our 413 instead of a reset connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes <= limit) chunks.push(c);
      else chunks.length = 0;
    });
    req.once('end', () => {
      const tooLarge = bytes > limit;
      resolve({ body: tooLarge ? Buffer.alloc(0) : chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks), tooLarge, bytes });
    });
    req.once('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(doc);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
