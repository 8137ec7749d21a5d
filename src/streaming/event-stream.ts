// AWS's event-stream framing (application/vnd.amazon.eventstream), as
// InvokeWithResponseStream answers with it: each message is a prelude (total
// length, headers length, a CRC32 of those eight bytes), the headers, the
// payload and a CRC32 of everything before it, all lengths big-endian. AWS's
// SDKs check both CRCs, so a frame with a wrong one ends the caller's stream.
// Pure: encoding for the gateway, decoding for tests and tools.
import { crc32 } from 'node:zlib';

/** The content type of an event-stream answer. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
/** The framing's own bound on a message (AWS's codecs refuse larger ones). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Header values are typed; the string type is 7 (a 2-byte length, then UTF-8). */
const STRING_TYPE = 7;

export type HeaderValue = string | boolean | number | bigint | Buffer | Date;

export interface EventStreamMessage {
  headers: Record<string, HeaderValue>;
  payload: Buffer;
}

/** Encodes one message whose headers are all strings (the only type InvokeWithResponseStream sends). */
export function encodeMessage(headers: Record<string, string>, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    if (n.length > 255) throw new RangeError(`event-stream header name longer than 255 bytes: ${name}`);
    if (v.length > 0xffff) throw new RangeError(`event-stream header ${name} longer than 65535 bytes`);
    const head = Buffer.alloc(1 + n.length + 1 + 2);
    head.writeUInt8(n.length, 0);
    n.copy(head, 1);
    head.writeUInt8(STRING_TYPE, 1 + n.length);
    head.writeUInt16BE(v.length, 2 + n.length);
    parts.push(head, v);
  }
  const headerBytes = Buffer.concat(parts);
  const total = PRELUDE_BYTES + headerBytes.length + payload.length + CRC_BYTES;
  if (total > MAX_MESSAGE_BYTES) throw new RangeError(`event-stream message of ${total} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBytes.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  headerBytes.copy(out, PRELUDE_BYTES);
  payload.copy(out, PRELUDE_BYTES + headerBytes.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - CRC_BYTES)), total - CRC_BYTES);
  return out;
}

/** An event message: `:message-type` event, its `:event-type` and the payload's `:content-type`. */
export function encodeEvent(eventType: string, contentType: string, payload: Buffer): Buffer {
  return encodeMessage({ ':event-type': eventType, ':content-type': contentType, ':message-type': 'event' }, payload);
}

/** What InvokeWithResponseStream's InvokeComplete event carries; absent members are left out, as AWS's JSON leaves them. */
export interface InvokeComplete {
  ErrorCode?: string;
  ErrorDetails?: string;
  LogResult?: string;
}

/**
 * A PayloadChunk event per piece of at most this many bytes: far below the
 * framing's 16 MiB, and above a buffered result's 6 MB so one buffered
 * answer stays one chunk.
 */
export const MAX_CHUNK_PAYLOAD_BYTES = 8 * 1024 * 1024;

/** PayloadChunk events carrying `bytes` (one unless it is larger than MAX_CHUNK_PAYLOAD_BYTES; none when empty). */
export function payloadChunks(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += MAX_CHUNK_PAYLOAD_BYTES) {
    out.push(encodeEvent('PayloadChunk', 'application/octet-stream', bytes.subarray(i, i + MAX_CHUNK_PAYLOAD_BYTES)));
  }
  return out;
}

export function invokeCompleteEvent(complete: InvokeComplete): Buffer {
  const body: InvokeComplete = {};
  if (complete.ErrorCode !== undefined) body.ErrorCode = complete.ErrorCode;
  if (complete.ErrorDetails !== undefined) body.ErrorDetails = complete.ErrorDetails;
  if (complete.LogResult !== undefined) body.LogResult = complete.LogResult;
  return encodeEvent('InvokeComplete', 'application/json', Buffer.from(JSON.stringify(body)));
}

export class EventStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

function readHeaders(buf: Buffer): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {};
  let i = 0;
  const need = (n: number) => {
    if (i + n > buf.length) throw new EventStreamError('event-stream headers end inside a header');
  };
  while (i < buf.length) {
    need(1);
    const nameLen = buf.readUInt8(i);
    i += 1;
    need(nameLen + 1);
    const name = buf.toString('utf8', i, i + nameLen);
    i += nameLen;
    const type = buf.readUInt8(i);
    i += 1;
    let value: HeaderValue;
    switch (type) {
      case 0:
      case 1:
        value = type === 0;
        break;
      case 2:
        need(1);
        value = buf.readInt8(i);
        i += 1;
        break;
      case 3:
        need(2);
        value = buf.readInt16BE(i);
        i += 2;
        break;
      case 4:
        need(4);
        value = buf.readInt32BE(i);
        i += 4;
        break;
      case 5:
        need(8);
        value = buf.readBigInt64BE(i);
        i += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const len = buf.readUInt16BE(i);
        i += 2;
        need(len);
        value = type === 6 ? Buffer.from(buf.subarray(i, i + len)) : buf.toString('utf8', i, i + len);
        i += len;
        break;
      }
      case 8:
        need(8);
        value = new Date(Number(buf.readBigInt64BE(i)));
        i += 8;
        break;
      case 9:
        need(16);
        value = Buffer.from(buf.subarray(i, i + 16));
        i += 16;
        break;
      default:
        throw new EventStreamError(`unknown event-stream header type ${type} for ${name}`);
    }
    headers[name] = value;
  }
  return headers;
}

/**
 * Decodes the whole messages at the start of `buf`; `rest` is an incomplete
 * message still to be completed by more bytes. Throws EventStreamError on a
 * bad length or CRC, as AWS's SDKs refuse such a stream.
 */
export function decodeMessages(buf: Buffer): { messages: EventStreamMessage[]; rest: Buffer } {
  const messages: EventStreamMessage[] = [];
  let at = 0;
  while (buf.length - at >= PRELUDE_BYTES) {
    const total = buf.readUInt32BE(at);
    const headersLen = buf.readUInt32BE(at + 4);
    if (crc32(buf.subarray(at, at + 8)) !== buf.readUInt32BE(at + 8)) throw new EventStreamError('event-stream prelude CRC mismatch');
    if (total < PRELUDE_BYTES + CRC_BYTES + headersLen || total > MAX_MESSAGE_BYTES) throw new EventStreamError(`event-stream message length ${total} is invalid`);
    if (buf.length - at < total) break;
    const msg = buf.subarray(at, at + total);
    if (crc32(msg.subarray(0, total - CRC_BYTES)) !== msg.readUInt32BE(total - CRC_BYTES)) throw new EventStreamError('event-stream message CRC mismatch');
    messages.push({
      headers: readHeaders(msg.subarray(PRELUDE_BYTES, PRELUDE_BYTES + headersLen)),
      payload: Buffer.from(msg.subarray(PRELUDE_BYTES + headersLen, total - CRC_BYTES)),
    });
    at += total;
  }
  return { messages, rest: buf.subarray(at) };
}
