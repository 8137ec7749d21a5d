// Hearth's Node.js runtime: a client of the AWS Lambda Runtime API (2018-06-01).
// Plain ESM, no dependencies. The entry point is bootstrap.mjs; this module
// holds everything so that it is loaded (and compiled) before a warm-pool
// process is specialised (see runtimes/README.md).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { format, types } from 'node:util';

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_CONTENT_TYPE = 'application/vnd.aws.lambda.error+json';

// Response streaming, with the names AWS's runtime client uses: a handler
// wrapped by awslambda.streamifyResponse carries these symbols.
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const RESPONSE_MODE_HEADER = 'Lambda-Runtime-Function-Response-Mode';
const ERROR_TYPE_TRAILER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';
const DEFAULT_STREAM_CONTENT_TYPE = 'application/octet-stream';
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const PRELUDE_DELIMITER_BYTES = 8;

// ---------------------------------------------------------------------------
// Warm-pool specialisation
// ---------------------------------------------------------------------------

/**
 * Read one line of JSON `{"env": {...}}` from `stream`, merge it into
 * process.env and chdir into LAMBDA_TASK_ROOT.
 */
export async function specializeFromStdin(stream = process.stdin) {
  stream.setEncoding('utf8');
  let buffered = '';
  let line;
  for await (const chunk of stream) {
    buffered += chunk;
    const end = buffered.indexOf('\n');
    if (end >= 0) {
      line = buffered.slice(0, end);
      break; // leaving the loop releases stdin, so it no longer holds the event loop
    }
  }
  if (line === undefined) line = buffered;
  if (!line.trim()) throw new Error('HEARTH_SPECIALIZE=stdin but stdin closed before a line was read');
  const message = JSON.parse(line);
  const env = message && typeof message === 'object' ? message.env : undefined;
  if (!env || typeof env !== 'object' || Array.isArray(env)) {
    throw new Error('specialisation line must be a JSON object {"env": {...}}');
  }
  for (const [name, value] of Object.entries(env)) process.env[name] = value === null || value === undefined ? '' : String(value);
  // Node read NODE_PATH when it started, before the line came: read it again
  // (require's global paths), as a start with the line's NODE_PATH would have.
  if ('NODE_PATH' in env) createRequire(import.meta.url)('node:module')._initPaths?.();
  if (process.env.LAMBDA_TASK_ROOT) process.chdir(process.env.LAMBDA_TASK_ROOT);
}

// ---------------------------------------------------------------------------
// Errors, in the shape Lambda's Node.js runtime sends them
// ---------------------------------------------------------------------------

class RuntimeError extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.name = errorType;
    if (cause !== undefined) this.cause = cause;
  }
}

function isError(value) {
  return types.isNativeError(value) || (value !== null && typeof value === 'object' && typeof value.message === 'string' && typeof value.name === 'string');
}

/** `{errorType, errorMessage, trace}` for any thrown or reported value. */
export function toErrorJson(error) {
  try {
    if (isError(error)) {
      const stack = typeof error.stack === 'string' ? error.stack : '';
      return {
        errorType: String(error.name),
        errorMessage: String(error.message),
        trace: stack ? stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'the error could not be read (its name, message or stack threw)', trace: [] };
  }
}

function headerSafe(value) {
  return String(value).replace(/[^\x20-\x7e]/g, '') || 'Unknown';
}

// ---------------------------------------------------------------------------
// Logging: console prefixed the way Lambda's Node.js runtime does it
// ---------------------------------------------------------------------------

const requestScope = new AsyncLocalStorage();
let currentRequestId; // used when one invocation runs at a time
let useScope = false;

function requestIdForLog() {
  if (useScope) {
    const store = requestScope.getStore();
    return store ? store.requestId : undefined;
  }
  return currentRequestId;
}

// Lambda's advanced logging controls: AWS_LAMBDA_LOG_FORMAT=JSON makes each
// console line one JSON object (timestamp, level, requestId, message), and
// AWS_LAMBDA_LOG_LEVEL silences the console methods below it. Text ignores the level, as on Lambda.
const LEVEL_RANK = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
let jsonLogs = false;
let minRank = 0;

/** `{json, minRank}` from the environment Lambda sets. */
export function logSettingsFromEnv(env) {
  const json = String(env.AWS_LAMBDA_LOG_FORMAT ?? '').toUpperCase() === 'JSON';
  const rank = LEVEL_RANK[String(env.AWS_LAMBDA_LOG_LEVEL ?? 'INFO').toUpperCase()];
  return { json, minRank: json ? (rank ?? LEVEL_RANK.INFO) : 0 };
}

/** One console call as Lambda's JSON line; an Error among the arguments adds errorType, errorMessage and stackTrace. */
export function jsonLogLine(level, requestId, args, now = new Date()) {
  const entry = { timestamp: now.toISOString(), level };
  if (requestId !== undefined) entry.requestId = requestId;
  entry.message = format(...args);
  const error = args.find(isError);
  if (error !== undefined) {
    const e = toErrorJson(error);
    entry.errorType = e.errorType;
    entry.errorMessage = e.errorMessage;
    entry.stackTrace = e.trace;
  }
  return JSON.stringify(entry);
}

function writeLog(level, args) {
  if (jsonLogs) {
    if (LEVEL_RANK[level] < minRank) return;
    process.stdout.write(`${jsonLogLine(level, requestIdForLog(), args)}\n`);
    return;
  }
  process.stdout.write(`${new Date().toISOString()}\t${requestIdForLog()}\t${level}\t${format(...args)}\n`);
}

/** The runtime's own error lines (Invoke Error, Init Error, Uncaught Exception): Text's `label \t{json}`, or one JSON line with the error's fields. */
function writeErrorLog(label, errorJson) {
  if (!jsonLogs) {
    writeLog('ERROR', [`${label} \t${JSON.stringify(errorJson)}`]);
    return;
  }
  const entry = { timestamp: new Date().toISOString(), level: 'ERROR' };
  const requestId = requestIdForLog();
  if (requestId !== undefined) entry.requestId = requestId;
  Object.assign(entry, { message: label, errorType: errorJson.errorType, errorMessage: errorJson.errorMessage, stackTrace: errorJson.trace });
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

export function patchConsole(env = process.env) {
  ({ json: jsonLogs, minRank } = logSettingsFromEnv(env));
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => writeLog(level, args);
  }
}

// ---------------------------------------------------------------------------
// Handler loading
// ---------------------------------------------------------------------------

function isModuleNotFound(err) {
  return err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND');
}

async function importModule(file) {
  try {
    return await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    }
    if (isModuleNotFound(err)) throw new RuntimeError('Runtime.ImportModuleError', `Error: ${err.message}`, err);
    throw err; // an error thrown by the module's own top-level code is reported as itself
  }
}

/** The file a module name stands for: name.js, name.mjs, name.cjs, then Node's own resolution. */
function resolveModuleFile(appRoot, moduleName) {
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const file = path.join(appRoot, moduleName + ext);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) return file;
  }
  try {
    // A directory with an index file or package.json, or a package in node_modules.
    return createRequire(path.join(appRoot, 'noop.js')).resolve(moduleName.startsWith('.') ? moduleName : `./${moduleName}`);
  } catch {
    try {
      return createRequire(path.join(appRoot, 'noop.js')).resolve(moduleName);
    } catch {
      return undefined;
    }
  }
}

/**
 * Load the handler named by `handlerString` (`file.export`, `dir/file.export`,
 * `file.nested.export`) from taskRoot. Throws RuntimeError with Lambda's error types.
 */
export async function loadHandler(taskRoot, handlerString) {
  if (!handlerString) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler: _HANDLER is empty');
  if (handlerString.includes('..')) {
    throw new RuntimeError('Runtime.MalformedHandlerName', `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const appRoot = path.resolve(taskRoot, path.dirname(handlerString));
  const base = path.basename(handlerString);
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match || !match[1] || !match[2]) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  const [, moduleName, handlerPath] = match;

  const file = resolveModuleFile(appRoot, moduleName);
  if (!file) throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  const ns = await importModule(file);

  const lookup = (root) => handlerPath.split('.').reduce((obj, key) => (obj === null || obj === undefined ? undefined : obj[key]), root);
  let handler = lookup(ns);
  if (handler === undefined && ns.default !== undefined) handler = lookup(ns.default); // CommonJS module.exports
  if (handler === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${moduleName}.${handlerPath} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${moduleName}.${handlerPath} is not a function`);
  }
  return handler;
}

// ---------------------------------------------------------------------------
// Runtime API client: node:http with a keep-alive agent
// ---------------------------------------------------------------------------

export class RuntimeClient {
  constructor(address) {
    const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(address);
    this.host = m ? m[1] : address;
    this.port = m && m[2] ? Number(m[2]) : 80;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, noDelay: true });
  }

  request(method, urlPath, body, headers = {}) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method, path: API_PREFIX + urlPath, agent: this.agent, headers },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body !== undefined) {
        req.setHeader('Content-Length', Buffer.byteLength(body));
        req.end(body);
      } else {
        req.end();
      }
    });
  }

  async next() {
    const res = await this.request('GET', '/invocation/next');
    if (res.status !== 200) throw new Error(`GET /invocation/next: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
    return res;
  }

  postResponse(requestId, body) {
    return this.post(`/invocation/${requestId}/response`, body, { 'Content-Type': 'application/json' });
  }

  postError(requestId, errorJson, handled) {
    const headers = { 'Content-Type': ERROR_CONTENT_TYPE, 'Lambda-Runtime-Function-Error-Type': headerSafe(errorJson.errorType) };
    if (handled) headers['X-Hearth-Error-Handled'] = 'true';
    return this.post(`/invocation/${requestId}/error`, JSON.stringify(errorJson), headers);
  }

  postInitError(errorJson) {
    const headers = { 'Content-Type': ERROR_CONTENT_TYPE, 'Lambda-Runtime-Function-Error-Type': headerSafe(errorJson.errorType) };
    return this.post('/init/error', JSON.stringify(errorJson), headers);
  }

  /**
   * Open the streamed /response post of `requestId`: chunked, each write sent
   * as its own chunk at once (the agent's socket has noDelay), error trailers
   * declared up front as Lambda's runtime client declares them. Headers go
   * out with the first write (or the end).
   */
  openStream(requestId, contentType) {
    return http.request({
      host: this.host,
      port: this.port,
      method: 'POST',
      path: `${API_PREFIX}/invocation/${encodeURIComponent(requestId)}/response`,
      agent: this.agent,
      headers: {
        [RESPONSE_MODE_HEADER]: 'streaming',
        'Content-Type': contentType,
        'Transfer-Encoding': 'chunked',
        Trailer: `${ERROR_TYPE_TRAILER}, ${ERROR_BODY_TRAILER}`,
      },
    });
  }

  async post(urlPath, body, headers) {
    const res = await this.request('POST', urlPath, body, headers);
    if (res.status >= 300) {
      // 413 or an unknown/expired request id: the agent has decided the outcome already.
      process.stderr.write(`[hearth-runtime] POST ${urlPath}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}\n`);
    }
  }
}

// ---------------------------------------------------------------------------
// Response streaming: awslambda.streamifyResponse, awslambda.HttpResponseStream
// ---------------------------------------------------------------------------

/**
 * The `responseStream` a streaming handler writes to: a Writable over the
 * chunked /response post. Each write reaches the agent as it is made (no
 * coalescing of small writes), and a write's callback, and 'drain' after
 * write() returned false, wait until the post can take more, so a slow
 * reader at the far end slows the handler down.
 */
export class ResponseStream extends Writable {
  #client;
  #requestId;
  #contentType = DEFAULT_STREAM_CONTENT_TYPE;
  #writeCalled = false;
  #started = false;
  #req = undefined;
  #reqEnded = false;
  #pendingWrite = null;
  #trailers = null;
  #settle;
  /** Resolves once the agent has answered the post, or the post failed. Never rejects. */
  done;
  /** Bytes the handler wrote, the prelude included. */
  bytes = 0;

  constructor(client, requestId, options = {}) {
    super({ highWaterMark: options.highWaterMark });
    this.#client = client;
    this.#requestId = requestId;
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
    // A broken post surfaces through the handler's write callbacks, pipeline
    // and finished(); unlistened, the 'error' event would crash the process.
    this.on('error', () => {});
  }

  /** As on Lambda: only before the first write. */
  setContentType(contentType) {
    if (this.#writeCalled || this.#req) throw new RuntimeError('Runtime.InvalidStreamingOperation', 'Cannot set content-type, too late.');
    this.#contentType = String(contentType);
  }

  write(chunk, encoding, callback) {
    this.#writeCalled = true;
    return super.write(asChunk(chunk), encoding, callback);
  }

  end(chunk, encoding, callback) {
    if (typeof chunk === 'function') return super.end(chunk);
    if (chunk !== undefined && chunk !== null) {
      this.#writeCalled = true;
      return super.end(asChunk(chunk), encoding, callback);
    }
    return super.end(encoding, callback);
  }

  #open() {
    if (this.#req) return this.#req;
    const req = this.#client.openStream(this.#requestId, this.#contentType);
    this.#req = req;
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) {
          // The agent decided the outcome already (the invocation timed out, the stream was cut).
          process.stderr.write(`[hearth-runtime] streamed POST /invocation/${this.#requestId}/response: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}\n`);
        }
        this.#broken(null);
      });
      res.on('error', (err) => this.#broken(err));
    });
    req.on('error', (err) => this.#broken(err));
    req.on('close', () => this.#broken(this.#reqEnded ? null : new Error('the streamed response post was closed')));
    return req;
  }

  /** The post is over: answered, failed or closed. Releases a write waiting for 'drain'. */
  #broken(err) {
    const pending = this.#pendingWrite;
    this.#pendingWrite = null;
    if (pending) pending(err ?? new Error('the streamed response post ended before the write'));
    else if (err && !this.writableFinished && !this.destroyed) this.destroy(err);
    this.#settle();
  }

  /** Written before the first byte of the body, or at the end when nothing was written (nodejs RIC #97). */
  #beginBody(req) {
    if (this.#started) return;
    this.#started = true;
    const hook = this._onBeforeFirstWrite;
    if (typeof hook === 'function') {
      hook((ch) => {
        const bytes = typeof ch === 'string' ? Buffer.from(ch) : ch;
        this.bytes += bytes.length;
        req.write(bytes);
      });
    }
  }

  _write(chunk, encoding, callback) {
    const req = this.#open();
    this.#beginBody(req);
    if (chunk.length === 0) return callback(); // an empty chunk would end a chunked body
    this.bytes += chunk.length;
    if (req.write(chunk)) return callback();
    this.#pendingWrite = callback;
    req.once('drain', () => {
      const pending = this.#pendingWrite;
      this.#pendingWrite = null;
      if (pending) pending();
    });
  }

  _final(callback) {
    const req = this.#open();
    this.#beginBody(req);
    if (this.#trailers) req.addTrailers(this.#trailers);
    this.#reqEnded = true;
    req.end(() => callback());
  }

  _destroy(err, callback) {
    // Destroyed before its end (by the handler, or the post broke): cut the
    // post, so the agent sees an incomplete stream rather than a clean end.
    if (this.#req && !this.#reqEnded) this.#req.destroy(err ?? undefined);
    else if (!this.#req) this.#settle();
    callback(err);
  }

  /**
   * End the stream with the error in Lambda's trailers (errorType, and the
   * base64 of the error JSON), after what was written so far. Resolves once
   * the agent has answered. Too late once the stream has ended: ignored then.
   */
  fail(errorJson) {
    if (!this.writableEnded && !this.destroyed) {
      this.#trailers = {
        [ERROR_TYPE_TRAILER]: headerSafe(errorJson.errorType),
        [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(errorJson)).toString('base64'),
      };
      super.end();
    }
    return this.done;
  }

  /** Whether the /response post has been opened (the agent has or will have an answer from it). */
  get posted() {
    return this.#req !== undefined;
  }

  /** Whether fail() can still reach the agent through this stream. */
  get failable() {
    return !this.writableEnded && !this.destroyed;
  }
}

/** What Lambda's runtime client does with a chunk that is not bytes or a string: JSON. */
function asChunk(chunk) {
  if (typeof chunk === 'string' || chunk instanceof Uint8Array) return chunk;
  return JSON.stringify(chunk);
}

/**
 * awslambda.HttpResponseStream: the content type function URLs read as a
 * JSON prelude ({statusCode, headers, cookies}) and 8 NUL bytes before the
 * body. The prelude goes out before the first write, or at the end when the
 * handler wrote nothing, so an empty body still carries its status.
 */
export class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    // JSON.stringify escapes NUL inside strings, so the delimiter cannot occur in the prelude.
    const metadata = JSON.stringify(prelude ?? {});
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(PRELUDE_DELIMITER_BYTES));
    };
    return underlyingStream;
  }
}

/** awslambda.streamifyResponse(handler, { highWaterMark }): marks a handler `(event, responseStream, context)`. */
export function streamifyResponse(handler, options) {
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  if (typeof options?.highWaterMark === 'number') handler[HANDLER_HIGHWATERMARK] = Number.parseInt(String(options.highWaterMark), 10);
  return handler;
}

/** The global `awslambda` Lambda's Node.js runtimes define, unless AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA is 1 or true. */
export function installAwsLambdaGlobal() {
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  globalThis.awslambda = { streamifyResponse, HttpResponseStream };
}

function isStreamingHandler(handler) {
  const mode = handler[HANDLER_STREAMING];
  if (mode === undefined || mode === null || mode === false) return false;
  if (mode === STREAM_RESPONSE) return true;
  throw new RuntimeError('Runtime.MalformedStreamingHandler', 'Only response streaming is supported.');
}

function streamHighWaterMark(handler) {
  const hwm = Number.parseInt(String(handler[HANDLER_HIGHWATERMARK]), 10);
  return Number.isNaN(hwm) ? undefined : hwm;
}

// ---------------------------------------------------------------------------
// Invocation
// ---------------------------------------------------------------------------

function parseJsonHeader(value) {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function staticConfig() {
  const env = process.env;
  return {
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    // Lambda hands the memory size over as the string from the environment.
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
  };
}

/** Runs the loop(s) for one loaded handler. */
class Invoker {
  constructor(client, handler, concurrency, streaming = false) {
    this.client = client;
    this.handler = handler;
    this.concurrency = concurrency;
    this.streaming = streaming;
    this.highWaterMark = streaming ? streamHighWaterMark(handler) : undefined;
    this.static = staticConfig();
    this.inFlight = new Set();
    // With one invocation at a time, Lambda's callbackWaitsForEmptyEventLoop is
    // honoured through 'beforeExit' (the event loop has drained).
    this.onDrained = null;
    process.on('beforeExit', () => {
      const fn = this.onDrained;
      this.onDrained = null;
      if (fn) fn();
    });
  }

  async loop() {
    for (;;) {
      const res = await this.client.next();
      await this.invoke(res.headers, res.body);
    }
  }

  async invoke(headers, body) {
    const requestId = headers['lambda-runtime-aws-request-id'];
    const deadline = Number(headers['lambda-runtime-deadline-ms']) || 0;
    const traceId = headers['lambda-runtime-trace-id'];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    // The same trace in W3C form, in the variable OpenTelemetry's environment carrier reads.
    const traceparent = headers['traceparent'];
    if (traceparent) process.env.TRACEPARENT = traceparent;
    else delete process.env.TRACEPARENT;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      ...this.static,
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: requestId,
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity']),
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    const record = { requestId, done: false };
    this.inFlight.add(record);
    let outcome;
    try {
      let event;
      try {
        event = JSON.parse(body.length ? body.toString('utf8') : 'null');
      } catch (err) {
        outcome = { error: new RuntimeError('Runtime.UnmarshalError', `Unable to parse the event as JSON: ${err.message}`), handled: false };
      }
      if (!outcome && this.streaming) {
        const stream = () => this.runStreaming(requestId, event, context, record);
        if (this.concurrency > 1) await requestScope.run({ requestId }, stream);
        else {
          currentRequestId = requestId;
          await stream();
        }
        return;
      }
      if (!outcome) {
        if (this.concurrency > 1) {
          outcome = await requestScope.run({ requestId }, () => this.run(event, context));
        } else {
          currentRequestId = requestId;
          outcome = await this.run(event, context);
        }
      }
      if (record.done) return; // a fatal error already reported this invocation
      if (!('error' in outcome)) {
        let payload;
        try {
          payload = JSON.stringify(outcome.value === undefined ? null : outcome.value);
        } catch (err) {
          outcome = { error: new RuntimeError('Runtime.MarshalError', `Unable to stringify the response body: ${err.message}`), handled: false };
        }
        if (payload !== undefined) {
          record.done = true;
          await this.client.postResponse(requestId, payload);
          return;
        }
      }
      const errorJson = toErrorJson(outcome.error);
      writeErrorLog('Invoke Error', errorJson);
      record.done = true;
      await this.client.postError(requestId, errorJson, outcome.handled);
    } finally {
      this.inFlight.delete(record);
    }
  }

  /** Call the handler with Lambda's async and callback semantics. Resolves to {value} or {error, handled}. */
  run(event, context) {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome) => {
        if (settled) return;
        settled = true;
        this.onDrained = null;
        resolve(outcome);
      };
      const single = this.concurrency === 1;
      const fromCallback = (err, value) => (err !== undefined && err !== null ? { error: err, handled: true } : { value });
      const callback = (err, value) => {
        const outcome = fromCallback(err, value);
        if (single && context.callbackWaitsForEmptyEventLoop) this.onDrained = () => finish(outcome);
        else finish(outcome);
      };
      // Legacy completion methods: they do not wait for the event loop.
      context.done = (err, value) => finish(fromCallback(err, value));
      context.succeed = (value) => finish({ value });
      context.fail = (err) => finish({ error: err ?? 'handled', handled: true });
      // If the loop drains before the handler has answered, Lambda answers null.
      if (single) this.onDrained = () => finish({ value: null });
      let result;
      try {
        result = this.handler(event, context, callback);
      } catch (err) {
        finish({ error: err, handled: false });
        return;
      }
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        result.then((value) => finish({ value }), (err) => finish({ error: err, handled: false }));
      }
      // Any other return value is ignored, as in Lambda: the callback (or a drained loop) decides.
    });
  }

  /**
   * Run a streaming handler `(event, responseStream, context)` and see its
   * stream to the end. As on Lambda the invocation lasts until the stream
   * has ended, also when the handler returns first (an unawaited pipeline);
   * a failure once bytes are out goes in the error trailers.
   */
  async runStreaming(requestId, event, context, record) {
    const stream = new ResponseStream(this.client, requestId, { highWaterMark: this.highWaterMark });
    record.stream = stream;
    let error;
    let result;
    try {
      result = this.handler(event, stream, context);
    } catch (err) {
      error = { value: err };
    }
    if (!error && !(result !== null && typeof result === 'object' && typeof result.then === 'function')) {
      error = { value: new RuntimeError('Runtime.MalformedStreamingHandler', 'Streaming does not support non-async handlers.') };
    }
    if (!error) {
      const settled = await this.untilDrained(result);
      if ('error' in settled) error = { value: settled.error };
      else if (settled.drained) error = { value: new RuntimeError('Runtime.NodeJsExit', 'The event loop drained before the handler settled: a Promise that was never settled.') };
    }
    if (!error && !stream.writableEnded && !stream.destroyed) {
      const ended = await this.untilDrained(stream.done);
      if (ended.drained && stream.failable) {
        error = { value: new RuntimeError('Runtime.InvalidStreamingOperation', 'Response stream is not finished: the handler returned without ending it and nothing is left that could.') };
      }
    }
    if (record.done) return; // a fatal error already reported this invocation
    record.done = true;
    if (error) {
      const errorJson = toErrorJson(error.value);
      writeErrorLog('Invoke Error', errorJson);
      if (stream.failable) await stream.fail(errorJson);
      else if (!stream.posted) await this.client.postError(requestId, errorJson, false);
      else await stream.done; // too late: the stream has ended or was cut, and the agent has seen how
      return;
    }
    if (!stream.posted) {
      // Destroyed by the handler before a byte went out: the invocation still needs an answer.
      const errorJson = toErrorJson(new RuntimeError('Runtime.InvalidStreamingOperation', 'The response stream was destroyed before anything was written.'));
      await this.client.postError(requestId, errorJson, false);
      return;
    }
    await stream.done;
  }

  /**
   * `promise` settled ({value} or {error}), or, with one invocation at a time,
   * {drained: true} when the event loop emptied first: nothing is left that
   * could settle it.
   */
  untilDrained(promise) {
    if (this.concurrency > 1) return promise.then((value) => ({ value }), (error) => ({ error }));
    return new Promise((resolve) => {
      let over = false;
      const finish = (outcome) => {
        if (over) return;
        over = true;
        if (this.onDrained === onDrained) this.onDrained = null;
        resolve(outcome);
      };
      const onDrained = () => finish({ drained: true });
      this.onDrained = onDrained;
      promise.then((value) => finish({ value }), (error) => finish({ error }));
    });
  }

  /** An uncaught exception or unhandled rejection: report every open invocation, then exit. */
  async fatal(errorJson) {
    const open = [...this.inFlight].filter((r) => !r.done);
    for (const r of open) r.done = true;
    await Promise.allSettled(
      open.map((r) => {
        if (!r.stream || !r.stream.posted) return this.client.postError(r.requestId, errorJson, false);
        // Mid-stream: the error goes in the trailers, as Lambda's runtime client sends it.
        if (r.stream.failable) return Promise.race([r.stream.fail(errorJson), new Promise((resolve) => setTimeout(resolve, 2000))]);
        return undefined;
      }),
    );
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

export async function start() {
  if (process.env.HEARTH_SPECIALIZE === 'stdin') await specializeFromStdin();

  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) {
    process.stderr.write('AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(2);
  }
  const client = new RuntimeClient(api);
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  // Lambda runs functions with the task root as working directory.
  if (process.env.LAMBDA_TASK_ROOT && process.cwd() !== taskRoot) {
    try {
      process.chdir(taskRoot);
    } catch {
      // a missing task root is reported by the handler loading below
    }
  }
  const concurrency = Math.max(1, Number.parseInt(process.env.AWS_LAMBDA_MAX_CONCURRENCY ?? '1', 10) || 1);
  useScope = concurrency > 1;
  patchConsole();

  let invoker;
  let initialising = true;
  const crash = async (errorJson) => {
    writeErrorLog('Uncaught Exception', errorJson);
    try {
      if (initialising) await client.postInitError(errorJson);
      else if (invoker) await invoker.fatal(errorJson);
    } finally {
      process.exit(129);
    }
  };
  process.on('uncaughtException', (err) => void crash(toErrorJson(err)));
  process.on('unhandledRejection', (reason) => {
    const inner = toErrorJson(reason);
    const message = isError(reason) ? `${reason.name}: ${reason.message}` : String(reason);
    void crash({ errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: message, trace: [`Runtime.UnhandledPromiseRejection: ${message}`, ...inner.trace.slice(1)] });
  });

  installAwsLambdaGlobal();
  let handler;
  let streaming;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER ?? '');
    streaming = isStreamingHandler(handler);
  } catch (err) {
    const errorJson = toErrorJson(err);
    writeErrorLog('Init Error', errorJson);
    try {
      await client.postInitError(errorJson);
    } finally {
      process.exit(1);
    }
  }
  initialising = false;
  invoker = new Invoker(client, handler, concurrency, streaming);
  const loops = [];
  for (let i = 0; i < concurrency; i++) loops.push(invoker.loop());
  try {
    await Promise.race(loops);
  } catch (err) {
    process.stderr.write(`[hearth-runtime] lost the Runtime API: ${err && err.message}\n`);
    process.exit(1);
  }
}
