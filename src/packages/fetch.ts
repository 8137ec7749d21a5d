// Downloads a package from an HTTP(S) URL: streamed, hashed as it arrives,
// and cut off as soon as it passes the zipped-size limit, so a hostile or
// broken server cannot fill memory. The digest is checked before the bytes
// are handed to the unpacker.
import { createHash } from 'node:crypto';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { PackageError } from './errors.js';

export interface FetchOptions {
  maxBytes: number;
  /** Required by the schema for URL sources; checked here again so no caller can forget it. */
  sha256: string;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

let shared: Dispatcher | undefined;

function defaultDispatcher(): Dispatcher {
  shared ??= new Agent({ connections: 8 }).compose(interceptors.redirect({ maxRedirections: 5 }));
  return shared;
}

export async function fetchPackage(url: string, opts: FetchOptions): Promise<Buffer> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PackageError('unavailable', `${url}: only http and https URLs are fetched`);
  const shown = `${u.origin}${u.pathname}`;
  const timeout = opts.timeoutMs ?? 60_000;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(u, { dispatcher: opts.dispatcher ?? defaultDispatcher(), headersTimeout: timeout, bodyTimeout: timeout, signal: AbortSignal.timeout(timeout * 2) });
  } catch (err) {
    throw new PackageError('unavailable', `${shown}: ${(err as Error).message}`);
  }
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => undefined);
    throw new PackageError('unavailable', `${shown}: HTTP ${res.statusCode}`);
  }
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    await res.body.dump({ limit: 0 }).catch(() => undefined);
    throw new PackageError('zipped-too-large', `${shown} is ${declared} bytes; the limit is ${opts.maxBytes} bytes zipped`);
  }
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > opts.maxBytes) {
        res.body.destroy();
        throw new PackageError('zipped-too-large', `${shown} is larger than the limit of ${opts.maxBytes} bytes zipped`);
      }
      hash.update(c);
      chunks.push(c);
    }
  } catch (err) {
    if (err instanceof PackageError) throw err;
    throw new PackageError('unavailable', `${shown}: ${(err as Error).message}`);
  }
  const digest = hash.digest('hex');
  if (digest !== opts.sha256.toLowerCase()) {
    throw new PackageError('digest-mismatch', `${shown} has SHA-256 ${digest}, but ${opts.sha256} was expected`);
  }
  return Buffer.concat(chunks);
}
