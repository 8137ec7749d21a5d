import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { deliverRecord, DestinationError, destinationType, type DestinationSinks } from './destinations.js';
import { buildDestinationRecord } from './records.js';

const record = buildDestinationRecord({ requestId: 'r1', functionArn: 'arn', condition: 'Success', invokeCount: 1, requestPayload: Buffer.from('{}'), now: 0 });

function sinks(): DestinationSinks & { streams: Array<[string, unknown]>; enqueued: Array<[string, string]> } {
  const streams: Array<[string, unknown]> = [];
  const enqueued: Array<[string, string]> = [];
  return {
    streams,
    enqueued,
    appendToStream: async (s, r) => void streams.push([s, r]),
    enqueue: async (req) => {
      enqueued.push([req.functionName, req.payload.toString()]);
      return { requestId: 'x', duplicate: false };
    },
  };
}

describe('destinations', () => {
  it('sends to a stream and to a function', async () => {
    const s = sinks();
    await deliverRecord({ stream: 'records' }, record, s);
    await deliverRecord({ function: 'next' }, record, s);
    expect(s.streams).toEqual([['records', record]]);
    expect(s.enqueued[0]?.[0]).toBe('next');
    expect(JSON.parse(s.enqueued[0]?.[1] ?? '')).toEqual(record);
    expect(destinationType({ url: 'http://x' })).toBe('url');
  });

  it('POSTs to a URL, retrying a refusal, and gives up with a DestinationError', async () => {
    let calls = 0;
    const server = createServer((req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        res.statusCode = req.url === '/flaky' && calls < 2 ? 503 : req.url === '/never' ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await deliverRecord({ url: `${base}/flaky` }, record, sinks(), { backoffMs: 1 });
      expect(calls).toBe(2);
      calls = 0;
      await expect(deliverRecord({ url: `${base}/never` }, record, sinks(), { backoffMs: 1, attempts: 3 })).rejects.toBeInstanceOf(DestinationError);
      expect(calls).toBe(3);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
