// One HTTP/1.1 exchange over a bare node:net socket: the request goes out
// byte for byte as written (repeated header lines, percent-encodings, a Host
// of the test's choosing), which an HTTP client would normalise. The answer
// is read to the connection's close (the request should say
// Connection: close) and parsed: status, header lines, body (de-chunked).
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Lower-case names, every line's value in order. */
  headers: Record<string, string[]>;
  body: Buffer;
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) throw new Error('chunked body cut before its last chunk');
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export function parseRawAnswer(data: Buffer): RawAnswer {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete answer head in ${data.length} bytes`);
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(i + 1).trim());
  }
  const rest = data.subarray(end + 4);
  const body = headers['transfer-encoding']?.some((v) => /chunked/i.test(v)) ? dechunk(rest) : rest;
  return { status, headers, body };
}

/** Sends `request` (CRLF line ends, ending with an empty line and any body) to host:port and reads the answer until the server closes. */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 30_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no end of the answer within ${timeoutMs} ms`)));
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parseRawAnswer(Buffer.concat(received)));
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.write(request);
  });
}

/** A GET request's text: the target as given, then each [name, value] as its own line, then Connection: close. */
export function rawGet(target: string, headers: readonly (readonly [string, string])[]): string {
  return `GET ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`;
}
