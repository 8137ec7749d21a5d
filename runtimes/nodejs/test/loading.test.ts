// Handler loading and init errors, through the real bootstrap.mjs as a child process.
import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from './fake-runtime-api.js';

const h = new Harness();
afterEach(() => h.cleanup());

const HELLO_NODE = `export const handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  return {
    statusCode: 200,
    body: JSON.stringify({ message: \`Hello from Node.js, \${name}!\`, requestId: context.awsRequestId }),
  };
};
`;

describe('handler loading', () => {
  it('runs examples/hello-node.yaml (ESM .mjs, async)', async () => {
    const { api } = await h.run({ 'index.mjs': HELLO_NODE }, 'index.handler');
    const res = await api.invoke({ name: 'Hearth' }, { requestId: 'req-hello' });
    expect(res.kind).toBe('response');
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 200,
      body: JSON.stringify({ message: 'Hello from Node.js, Hearth!', requestId: 'req-hello' }),
    });
  });

  it('loads CommonJS .js (no package.json type)', async () => {
    const { api } = await h.run({ 'index.js': 'exports.handler = async (e) => ({ cjs: true, e });\n' }, 'index.handler');
    expect(JSON.parse((await api.invoke(1)).body)).toEqual({ cjs: true, e: 1 });
  });

  it('loads CommonJS module.exports = {...} assigned dynamically', async () => {
    const code = 'const name = "handler";\nmodule.exports = {};\nmodule.exports[name] = async () => "dynamic";\n';
    const { api } = await h.run({ 'app.js': code }, 'app.handler');
    expect((await api.invoke({})).body).toBe('"dynamic"');
  });

  it('loads ESM .js when package.json says "type": "module"', async () => {
    const { api } = await h.run(
      { 'package.json': '{"type":"module"}', 'index.js': 'export async function handler() { return typeof require; }\n' },
      'index.handler',
    );
    expect((await api.invoke({})).body).toBe('"undefined"');
  });

  it('loads .cjs', async () => {
    const { api } = await h.run({ 'index.cjs': 'module.exports.handler = async () => typeof require;\n' }, 'index.handler');
    expect((await api.invoke({})).body).toBe('"function"');
  });

  it('prefers .js over .mjs over .cjs', async () => {
    const { api } = await h.run(
      { 'index.mjs': 'export const handler = async () => "mjs";\n', 'index.cjs': 'exports.handler = async () => "cjs";\n' },
      'index.handler',
    );
    expect((await api.invoke({})).body).toBe('"mjs"');
  });

  it('loads nested paths and nested export names', async () => {
    const { api } = await h.run(
      { 'src/lib/app.mjs': 'export const handlers = { main: async () => "nested" };\n' },
      'src/lib/app.handlers.main',
    );
    expect((await api.invoke({})).body).toBe('"nested"');
  });

  it('resolves modules from the task root node_modules for user code', async () => {
    const { api } = await h.run(
      {
        'node_modules/greeter/package.json': '{"name":"greeter","main":"index.js"}',
        'node_modules/greeter/index.js': 'module.exports = (n) => `hi ${n}`;\n',
        'index.mjs': 'import greet from "greeter";\nexport const handler = async (e) => greet(e.n);\n',
      },
      'index.handler',
    );
    expect((await api.invoke({ n: 'x' })).body).toBe('"hi x"');
  });
});

describe('init errors go to /init/error and the process exits non-zero', () => {
  async function initError(files: Record<string, string>, handler: string) {
    const { api, rt } = await h.run(files, handler);
    const err = await api.waitInitError();
    expect(await rt.exited).not.toBe(0);
    return { err, body: JSON.parse(err.body) as { errorType: string; errorMessage: string; trace: string[] }, rt };
  }

  it('missing module: Runtime.ImportModuleError', async () => {
    const { err, body } = await initError({ 'other.js': '' }, 'index.handler');
    expect(err.headers['lambda-runtime-function-error-type']).toBe('Runtime.ImportModuleError');
    expect(err.headers['content-type']).toBe('application/vnd.aws.lambda.error+json');
    expect(body.errorType).toBe('Runtime.ImportModuleError');
    expect(body.errorMessage).toBe("Error: Cannot find module 'index'");
  });

  it('missing dependency inside the module: Runtime.ImportModuleError', async () => {
    const { body } = await initError({ 'index.mjs': 'import "no-such-pkg-xyz";\nexport const handler = () => 1;\n' }, 'index.handler');
    expect(body.errorType).toBe('Runtime.ImportModuleError');
    expect(body.errorMessage).toContain('no-such-pkg-xyz');
  });

  it('missing export: Runtime.HandlerNotFound', async () => {
    const { err, body } = await initError({ 'index.mjs': 'export const other = () => 1;\n' }, 'index.handler');
    expect(err.headers['lambda-runtime-function-error-type']).toBe('Runtime.HandlerNotFound');
    expect(body.errorMessage).toBe('index.handler is undefined or not exported');
  });

  it('export that is not a function: Runtime.HandlerNotFound', async () => {
    const { body } = await initError({ 'index.mjs': 'export const handler = 42;\n' }, 'index.handler');
    expect(body.errorType).toBe('Runtime.HandlerNotFound');
    expect(body.errorMessage).toBe('index.handler is not a function');
  });

  it('syntax error: Runtime.UserCodeSyntaxError', async () => {
    const { err, body } = await initError({ 'index.mjs': 'export const handler = async ( => 1;\n' }, 'index.handler');
    expect(err.headers['lambda-runtime-function-error-type']).toBe('Runtime.UserCodeSyntaxError');
    expect(body.errorMessage).toMatch(/^SyntaxError: /);
  });

  it('malformed handler name: Runtime.MalformedHandlerName', async () => {
    const { body } = await initError({ 'index.mjs': '' }, 'index');
    expect(body.errorType).toBe('Runtime.MalformedHandlerName');
  });

  it('an exception thrown by module code is reported as itself', async () => {
    const { err, body } = await initError({ 'index.js': 'throw new TypeError("no config");\n' }, 'index.handler');
    expect(err.headers['lambda-runtime-function-error-type']).toBe('TypeError');
    expect(body.errorMessage).toBe('no config');
    expect(body.trace[0]).toBe('TypeError: no config');
  });

  it('logs written during init carry the request id "undefined", like Lambda', async () => {
    const { rt } = await initError({ 'index.mjs': 'console.log("starting");\n' }, 'index.handler');
    expect(rt.stdout()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tundefined\tINFO\tstarting$/m);
  });
});
