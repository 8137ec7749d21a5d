// A request's logger, made only when the request logs something. Fastify
// gives every request a pino child bound to its id (req.log); building that
// child (chindings serialised to a string, a new object) cost about 1.4 % of
// the gateway's CPU under the gateway bench, for requests that, on the hot
// path, never log (docs/performance.md). Lines a request does log still carry
// its reqId, as fastify's own child would.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

export class RequestLog implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #opts: ChildLoggerOptions | undefined;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, opts?: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#opts = opts;
  }

  #log(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#opts);
    return this.#child;
  }

  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#log().level = level;
  }

  // Methods on the prototype, not closures per request: a request that never logs allocates this one object.
  fatal(objOrMsg: unknown, ...rest: unknown[]): void {
    this.#write('fatal', objOrMsg, rest);
  }

  error(objOrMsg: unknown, ...rest: unknown[]): void {
    this.#write('error', objOrMsg, rest);
  }

  warn(objOrMsg: unknown, ...rest: unknown[]): void {
    this.#write('warn', objOrMsg, rest);
  }

  info(objOrMsg: unknown, ...rest: unknown[]): void {
    this.#write('info', objOrMsg, rest);
  }

  debug(objOrMsg: unknown, ...rest: unknown[]): void {
    this.#write('debug', objOrMsg, rest);
  }

  trace(objOrMsg: unknown, ...rest: unknown[]): void {
    this.#write('trace', objOrMsg, rest);
  }

  silent(): void {}

  #write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', objOrMsg: unknown, rest: unknown[]): void {
    const log = this.#log();
    Reflect.apply(log[level], log, [objOrMsg, ...rest]);
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#log().child(bindings, opts);
  }
}
