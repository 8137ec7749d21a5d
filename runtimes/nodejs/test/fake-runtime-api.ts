// A stub of the Lambda Runtime API (just enough of Hearth's agent to drive the
// runtime in its own tests; the agent's contract tests live with the agent),
// plus a helper that starts the real bootstrap.mjs as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BOOTSTRAP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bootstrap.mjs');
const PREFIX = '/2018-06-01/runtime';

export interface Posted {
  kind: 'response' | 'error' | 'init_error';
  headers: IncomingHttpHeaders;
  body: string;
  /** The body's bytes (a streamed body may not be UTF-8). */
  raw: Buffer;
  /** When the body ended. */
  at: number;
  /** When the request's headers arrived. */
  headersAt: number;
  /** Each piece of the body as it arrived, with its time. */
  chunks: { at: number; data: Buffer }[];
  /** HTTP trailers (a streamed response's error trailers). */
  trailers: Record<string, string | undefined>;
}

export interface InvokeOptions {
  requestId?: string;
  deadlineMs?: number;
  arn?: string;
  traceId?: string;
  clientContext?: unknown;
  identity?: unknown;
  raw?: string;
}

interface Pending {
  requestId: string;
  body: string;
  headers: Record<string, string>;
}

function waitFor<T>(check: () => T | undefined, subscribe: (wake: () => void) => () => void, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const now = check();
    if (now !== undefined) return resolve(now);
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe(() => {
      const v = check();
      if (v !== undefined) {
        clearTimeout(timer);
        unsubscribe();
        resolve(v);
      }
    });
  });
}

export class FakeRuntimeApi {
  readonly requests: { method: string; url: string; port: number }[] = [];
  readonly results = new Map<string, Posted>();
  initError: Posted | undefined;
  /** The most GET /next requests that were waiting at the same time. */
  maxWaitingNext = 0;
  /** Leave each POST body unread for this long after its headers arrive (back-pressure tests). */
  readDelayMs = 0;
  /** Cut the connection of a streamed /response once its first bytes arrive (a caller that went away). */
  cutStreams = false;
  /** Streamed /response posts whose body is still arriving, by request id. */
  readonly streaming = new Map<string, { headersAt: number; chunks: { at: number; data: Buffer }[] }>();
  private waitingNext: ((p: Pending) => void)[] = [];
  private queue: Pending[] = [];
  private listeners = new Set<() => void>();
  private server: http.Server;
  address = '';

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', port: req.socket.remotePort ?? 0 });
    const headersAt = Date.now();
    const chunks: { at: number; data: Buffer }[] = [];
    const streamed = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/response$/.exec(req.url ?? '');
    if (streamed && req.headers['lambda-runtime-function-response-mode'] === 'streaming') {
      this.streaming.set(decodeURIComponent(streamed[1] ?? ''), { headersAt, chunks });
    }
    if (this.readDelayMs > 0 && req.method === 'POST') {
      req.pause();
      setTimeout(() => req.resume(), this.readDelayMs);
    }
    req.on('data', (c: Buffer) => {
      chunks.push({ at: Date.now(), data: c });
      if (this.cutStreams && streamed) req.socket.destroy();
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks.map((c) => c.data));
      const body = raw.toString('utf8');
      const url = req.url ?? '';
      if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
        const serve = (p: Pending): void => {
          res.writeHead(200, { 'Content-Type': 'application/json', ...p.headers });
          res.end(p.body);
        };
        const next = this.queue.shift();
        if (next) return serve(next);
        this.waitingNext.push(serve);
        this.maxWaitingNext = Math.max(this.maxWaitingNext, this.waitingNext.length);
        this.notify();
        res.on('close', () => {
          this.waitingNext = this.waitingNext.filter((w) => w !== serve);
        });
        return;
      }
      const posted = (kind: Posted['kind']): Posted => ({ kind, headers: req.headers, body, raw, at: Date.now(), headersAt, chunks, trailers: { ...req.trailers } });
      if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
        this.initError = posted('init_error');
      } else {
        const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
        if (req.method !== 'POST' || !m) {
          res.writeHead(404);
          res.end();
          return;
        }
        this.results.set(decodeURIComponent(m[1] ?? ''), posted(m[2] as 'response' | 'error'));
      }
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.end('{"status":"OK"}');
      this.notify();
    });
  }

  private subscribe = (wake: () => void): (() => void) => {
    this.listeners.add(wake);
    return () => this.listeners.delete(wake);
  };

  enqueue(event: unknown, opts: InvokeOptions = {}): string {
    const requestId = opts.requestId ?? randomUUID();
    const headers: Record<string, string> = {
      'Lambda-Runtime-Aws-Request-Id': requestId,
      'Lambda-Runtime-Deadline-Ms': String(opts.deadlineMs ?? Date.now() + 30_000),
      'Lambda-Runtime-Invoked-Function-Arn': opts.arn ?? 'arn:aws:lambda:us-east-1:000000000000:function:test-fn',
    };
    if (opts.traceId) headers['Lambda-Runtime-Trace-Id'] = opts.traceId;
    if (opts.clientContext !== undefined) headers['Lambda-Runtime-Client-Context'] = JSON.stringify(opts.clientContext);
    if (opts.identity !== undefined) headers['Lambda-Runtime-Cognito-Identity'] = JSON.stringify(opts.identity);
    const pending: Pending = { requestId, body: opts.raw ?? JSON.stringify(event), headers };
    const waiter = this.waitingNext.shift();
    if (waiter) waiter(pending);
    else this.queue.push(pending);
    return requestId;
  }

  waitResult(requestId: string, timeoutMs = 10_000): Promise<Posted> {
    return waitFor(() => this.results.get(requestId), this.subscribe, timeoutMs, `the result of ${requestId}`);
  }

  async invoke(event: unknown, opts: InvokeOptions = {}, timeoutMs = 10_000): Promise<Posted> {
    return this.waitResult(this.enqueue(event, opts), timeoutMs);
  }

  waitInitError(timeoutMs = 10_000): Promise<Posted> {
    return waitFor(() => this.initError, this.subscribe, timeoutMs, 'an init error');
  }

  waitNextPolls(n: number, timeoutMs = 10_000): Promise<number> {
    return waitFor(() => (this.waitingNext.length >= n ? this.waitingNext.length : undefined), this.subscribe, timeoutMs, `${n} waiting /next polls`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface RuntimeProcess {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  waitStdout(needle: string | RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export function startRuntime(env: Record<string, string>, opts: { stdin?: boolean; cwd?: string } = {}): RuntimeProcess {
  const proc = spawn(process.execPath, [BOOTSTRAP], {
    env,
    cwd: opts.cwd,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const wakers = new Set<() => void>();
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    for (const w of [...wakers]) w();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const matches = (needle: string | RegExp): boolean => (typeof needle === 'string' ? out.includes(needle) : needle.test(out));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitStdout: (needle, timeoutMs = 5000) =>
      waitFor(
        () => (matches(needle) ? out : undefined),
        (wake) => {
          wakers.add(wake);
          return () => wakers.delete(wake);
        },
        timeoutMs,
        `stdout to contain ${String(needle)} (got ${JSON.stringify(out)})`,
      ),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** The environment Hearth's agent gives a runtime, minus whatever the test runner had. */
export function runtimeEnv(api: FakeRuntimeApi, taskRoot: string, handler: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(AWS_|LAMBDA_|_HANDLER|HEARTH_|NODE_OPTIONS|VITEST)/.test(k)) env[k] = v;
  }
  return {
    ...env,
    AWS_LAMBDA_RUNTIME_API: api.address,
    _HANDLER: handler,
    LAMBDA_TASK_ROOT: taskRoot,
    AWS_LAMBDA_FUNCTION_NAME: 'test-fn',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/test-fn',
    AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]abc',
    ...extra,
  };
}

/** A fresh task root holding `files`. */
export function taskRoot(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-node-rt-'));
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(root, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return root;
}

/** Starts runtimes and servers for a test file and cleans them all up. */
export class Harness {
  private apis: FakeRuntimeApi[] = [];
  private procs: RuntimeProcess[] = [];
  private roots: string[] = [];

  async api(): Promise<FakeRuntimeApi> {
    const api = await new FakeRuntimeApi().listen();
    this.apis.push(api);
    return api;
  }

  root(files: Record<string, string>): string {
    const r = taskRoot(files);
    this.roots.push(r);
    return r;
  }

  start(env: Record<string, string>, opts: { stdin?: boolean; cwd?: string } = {}): RuntimeProcess {
    const p = startRuntime(env, opts);
    this.procs.push(p);
    return p;
  }

  /** A runtime serving `handler` from a fresh task root holding `files`. */
  async run(files: Record<string, string>, handler: string, extra: Record<string, string> = {}): Promise<{ api: FakeRuntimeApi; rt: RuntimeProcess; root: string }> {
    const api = await this.api();
    const root = this.root(files);
    const rt = this.start(runtimeEnv(api, root, handler, extra));
    return { api, rt, root };
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    await Promise.all(this.apis.map((a) => a.close()));
    for (const r of this.roots) fs.rmSync(r, { recursive: true, force: true });
    this.procs = [];
    this.apis = [];
    this.roots = [];
  }
}
