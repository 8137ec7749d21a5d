// The process node's kubelet log endpoint: GET /containerLogs/NS/POD/CONTAINER
// on the node's address, port 10250 (its daemonEndpoints), which the API
// server's pod log subresource (`kubectl logs`, GET …/pods/P/log) proxies to.
// Containers write straight into their log files (launch.ts), so lines carry
// no time of their own: a clock polls every file under the logs directory
// every 100 ms and records when each stretch of bytes appeared, the time a
// line is stamped with (timestamps=true, sinceSeconds, sinceTime). Served:
// follow, timestamps, sinceSeconds, sinceTime, tailLines, limitBytes. The API
// server does not verify this endpoint's certificate without
// --kubelet-certificate-authority, as in a default cluster; this node asks no
// client certificate either (it listens only inside the test's namespace).
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const KUBELET_PORT = 10250;
const POLL_MS = 100;
/** Entries kept per file: a stretch per poll that found growth; past this the oldest go (their lines take the next one's time). */
const MAX_STRETCHES = 100_000;

interface Stretch {
  offset: number;
  timeMs: number;
}

/** When each stretch of each container log's bytes appeared. */
export class LogClock {
  readonly #files = new Map<string, { size: number; stretches: Stretch[] }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly logsDir: string) {}

  start(): void {
    this.poll();
    this.#timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Looks at every container log once: growth since the last look is stamped now. */
  poll(): void {
    const now = Date.now();
    let pods: string[];
    try {
      pods = readdirSync(this.logsDir);
    } catch {
      return;
    }
    for (const pod of pods) {
      let files: string[];
      try {
        files = readdirSync(join(this.logsDir, pod)).filter((f) => f.endsWith('.log'));
      } catch {
        continue;
      }
      for (const f of files) {
        const path = join(this.logsDir, pod, f);
        let size: number;
        try {
          size = statSync(path).size;
        } catch {
          continue;
        }
        const known = this.#files.get(path);
        if (known === undefined) {
          // First seen now: what it holds already is stamped now (a node that restarted knows no better).
          this.#files.set(path, { size, stretches: [{ offset: 0, timeMs: now }] });
        } else if (size > known.size) {
          known.stretches.push({ offset: known.size, timeMs: now });
          if (known.stretches.length > MAX_STRETCHES) known.stretches.shift();
          known.size = size;
        }
      }
    }
  }

  /** The time the byte at `offset` of `path` appeared (now, for bytes not yet seen by a poll). */
  timeOf(path: string, offset: number): number {
    const s = this.#files.get(path)?.stretches ?? [];
    let lo = 0;
    let hi = s.length - 1;
    let found: Stretch | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = s[mid];
      if (m === undefined) break;
      if (m.offset <= offset) {
        found = m;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const last = this.#files.get(path);
    return found === undefined || (last !== undefined && offset >= last.size) ? Date.now() : found.timeMs;
  }
}

/** RFC 3339 with nanoseconds, as the kubelet stamps lines. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export interface ContainerLogServerOptions {
  logsDir: string;
  nodeIp: string;
  /** Where the server's key and self-signed certificate are made. */
  certDir: string;
  log: (m: string) => void;
}

export class ContainerLogServer {
  readonly clock: LogClock;
  #server: Server | undefined;
  readonly #open = new Set<() => void>();

  constructor(private readonly opts: ContainerLogServerOptions) {
    this.clock = new LogClock(opts.logsDir);
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.certDir, { recursive: true, mode: 0o700 });
    const key = join(this.opts.certDir, 'kubelet.key');
    const cert = join(this.opts.certDir, 'kubelet.crt');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=hearth-process-node', '-addext', `subjectAltName=IP:${this.opts.nodeIp}`]);
    this.clock.start();
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://node');
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (req.method !== 'GET' || m === null) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const [, ns = '', pod = '', container = ''] = m.map(decodeURIComponent);
      this.serve(ns, pod, container, url.searchParams, req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(KUBELET_PORT, this.opts.nodeIp, () => resolve());
    });
    this.#server = server;
    this.opts.log(`container logs served on https://${this.opts.nodeIp}:${KUBELET_PORT}/containerLogs/`);
  }

  async stop(): Promise<void> {
    this.clock.stop();
    for (const end of this.#open) end();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** The newest pod directory of NS/POD (a pod recreated under its name gets a new uid). */
  private podDir(ns: string, pod: string): string | undefined {
    let best: { dir: string; mtime: number } | undefined;
    try {
      for (const d of readdirSync(this.opts.logsDir)) {
        if (!d.startsWith(`${ns}_${pod}_`)) continue;
        const dir = join(this.opts.logsDir, d);
        const mtime = statSync(dir).mtimeMs;
        if (best === undefined || mtime > best.mtime) best = { dir, mtime };
      }
    } catch {
      return undefined;
    }
    return best?.dir;
  }

  private serve(ns: string, pod: string, container: string, q: URLSearchParams, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    const dir = this.podDir(ns, pod);
    const path = dir === undefined ? undefined : join(dir, `${container}.log`);
    let fd: number;
    try {
      if (path === undefined) throw new Error('no pod');
      fd = openSync(path, 'r');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`container "${container}" in pod "${pod}" is waiting to start: ContainerCreating\n`);
      return;
    }
    const timestamps = q.get('timestamps') === 'true';
    const follow = q.get('follow') === 'true';
    const sinceSeconds = q.get('sinceSeconds');
    const sinceTime = q.get('sinceTime');
    const since = sinceSeconds !== null ? Date.now() - Number(sinceSeconds) * 1000 : sinceTime !== null ? Date.parse(sinceTime) : undefined;
    const tail = q.get('tailLines') === null ? undefined : Number(q.get('tailLines'));
    let budget = q.get('limitBytes') === null ? Infinity : Number(q.get('limitBytes'));
    this.clock.poll();

    let offset = 0;
    let rest = Buffer.alloc(0);
    /** Complete lines from the file after `offset`, each with the time its first byte appeared. */
    const read = (): Array<{ line: Buffer; timeMs: number }> => {
      const out: Array<{ line: Buffer; timeMs: number }> = [];
      const buf = Buffer.alloc(256 * 1024);
      for (let i = 0; i < 4096; i++) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        const start = offset - rest.length;
        const data = Buffer.concat([rest, buf.subarray(0, n)]);
        offset += n;
        let from = 0;
        for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, from)) {
          out.push({ line: data.subarray(from, nl + 1), timeMs: this.clock.timeOf(path ?? '', start + from) });
          from = nl + 1;
        }
        rest = Buffer.from(data.subarray(from));
      }
      return out;
    };
    const send = (lines: Array<{ line: Buffer; timeMs: number }>): boolean => {
      for (const l of lines) {
        if (since !== undefined && l.timeMs < since) continue;
        const chunk = timestamps ? Buffer.concat([Buffer.from(`${stamp(l.timeMs)} `), l.line]) : l.line;
        if (chunk.length > budget) return false;
        budget -= chunk.length;
        res.write(chunk);
      }
      return true;
    };
    res.writeHead(200, { 'content-type': 'text/plain' });
    let lines = read();
    if (since !== undefined) lines = lines.filter((l) => l.timeMs >= since);
    if (tail !== undefined && tail >= 0) lines = tail === 0 ? [] : lines.slice(-tail);
    const more = send(lines);
    if (!follow || !more) {
      closeSync(fd);
      res.end();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const end = (): void => {
      clearTimeout(timer);
      this.#open.delete(end);
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
      res.end();
    };
    this.#open.add(end);
    req.once('close', end);
    const tick = (): void => {
      if (!this.#open.has(end)) return;
      this.clock.poll();
      if (!send(read())) return end();
      timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
  }
}
