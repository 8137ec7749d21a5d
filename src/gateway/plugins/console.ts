// The web console's static files (console/, built by `npm run build` into
// dist/console) at /console. The files hold no data and need no credentials
// (a browser loading a page sends none); everything the console shows it
// reads through the gateway's public APIs, each call carrying the API key the
// user typed, so it can do no more than that key may. Hashed assets are
// cached for good, index.html is revalidated every time, and a strict
// Content-Security-Policy keeps the page to this origin's own scripts.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { LambdaError } from '../lambda-errors.js';
import { sendLambdaError } from '../reply-error.js';

export interface ConsoleOptions {
  /** The built console (default: dist/console of this checkout or image). */
  dir?: string;
}

/** Served without credentials (src/gateway/auth/route-target.ts). */
export const CONSOLE_ROUTES: readonly string[] = ['/console', '/console/', '/console/*'];

/** src/gateway/plugins and dist/gateway/plugins are both three levels below the package root. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../dist/console/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

// CodeMirror and uPlot set styles from script (style elements, style attributes): styles may be inline, scripts may not.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Every file under dir, as URL paths relative to it ('index.html', 'assets/x.js'); none when dir does not exist. */
async function listFiles(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  try {
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) out.add(relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out;
}

export const consoleStatic: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const dir = opts.dir ?? DEFAULT_CONSOLE_DIR;
  // Only files present when the gateway started are served: a request can name nothing else, whatever its path.
  const files = await listFiles(dir);
  const notBuilt = () => new LambdaError(404, 'ResourceNotFoundException', 'The console is not built: run `npm run build` (it builds console/ into dist/console).');

  const send = async (reply: FastifyReply, path: string): Promise<FastifyReply> => {
    if (!files.has(path)) return sendLambdaError(reply, files.size === 0 ? notBuilt() : new LambdaError(404, 'ResourceNotFoundException', `No console file ${path}`));
    const body = await readFile(join(dir, path));
    reply.header('content-type', CONTENT_TYPES[extname(path)] ?? 'application/octet-stream');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('content-security-policy', CSP);
    reply.header('referrer-policy', 'no-referrer');
    // Vite names assets by their content: a new build is a new name.
    reply.header('cache-control', path.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.code(200).send(body);
  };

  const hide = { hide: true };
  app.get('/console', { schema: hide }, async (_req, reply) => reply.redirect('/console/', 302));
  app.get('/console/', { schema: hide }, async (_req, reply) => send(reply, 'index.html'));
  app.get<{ Params: { '*': string } }>('/console/*', { schema: hide }, async (req, reply) => send(reply, req.params['*']));
};
