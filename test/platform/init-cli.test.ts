// hearth init: the files it writes for every runtime (a valid Function whose
// code is the handler's directory), its refusals, and the steps it prints,
// followed as a user would: hearth deploy into a running platform's
// functions directory, then hearth invoke, for every runtime Hearth runs.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIMES, type Runtime } from '../../src/api/function.js';
import { validateYaml } from '../../src/api/validate.js';
import { initFiles, nextSteps, parseInitArgs } from '../../src/cli/init.js';
import { runHearth } from '../helpers/hearth-cli.js';
import { startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;


const hearth = (opts: { env?: Record<string, string>; cwd?: string }, ...args: string[]) => runHearth({ ...opts, timeoutMs: 300_000 }, ...args);

/** What each runtime's directory holds besides NAME.yaml, and the handler its Function names. */
const EXPECTED: Record<Runtime, { sources: string[]; handler?: string }> = {
  nodejs20: { sources: ['src/index.mjs'], handler: 'index.handler' },
  nodejs22: { sources: ['src/index.mjs'], handler: 'index.handler' },
  'python3.11': { sources: ['src/lambda_function.py'], handler: 'lambda_function.lambda_handler' },
  'python3.12': { sources: ['src/lambda_function.py'], handler: 'lambda_function.lambda_handler' },
  'python3.13': { sources: ['src/lambda_function.py'], handler: 'lambda_function.lambda_handler' },
  go: { sources: ['src/main.go', 'src/go.mod', 'src/go.sum'] },
  provided: { sources: ['src/bootstrap'] },
};

describe('initFiles', () => {
  it('covers every runtime Hearth has', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...RUNTIMES].sort());
  });

  it.each(RUNTIMES.map((runtime) => ({ runtime })))('$runtime: a valid Function named for the function, whose package is src/ holding the handler', ({ runtime }) => {
    const files = initFiles('my-fn', runtime);
    const expected = EXPECTED[runtime];
    expect(files.map((f) => f.path)).toEqual(['my-fn.yaml', ...expected.sources]);
    const yaml = files[0]?.content ?? '';
    const [doc, ...more] = validateYaml(yaml);
    expect(more).toEqual([]);
    if (!doc?.result.ok) throw new Error(`invalid: ${JSON.stringify(doc?.result)}`);
    const fn = doc.result.value;
    expect(fn.metadata.name).toBe('my-fn');
    expect(fn.spec.runtime).toBe(runtime);
    expect(fn.spec.handler).toBe(expected.handler);
    expect(fn.spec.code.package).toEqual({ path: 'src' });
    // The handler named is the one written: file and function.
    const source = files[1]?.content ?? '';
    if (expected.handler !== undefined) {
      const fnName = expected.handler.split('.')[1] ?? '';
      expect(source).toMatch(new RegExp(runtime.startsWith('python') ? `^def ${fnName}\\(event, context\\):` : `^export const ${fnName} = async`, 'm'));
    }
    // Lambda's hello world: statusCode 200 and a JSON body.
    expect(source).toMatch(/statusCode/);
    expect(source).toContain('Hello from my-fn!');
    expect(files.filter((f) => f.executable === true).map((f) => f.path)).toEqual(runtime === 'provided' ? ['src/bootstrap'] : []);
  });

  it('go: a module named for the function, on the aws-lambda-go that examples/hello-go.yaml pins', () => {
    const files = Object.fromEntries(initFiles('orders', 'go').map((f) => [f.path, f.content]));
    const example = (parse(readFileSync('examples/hello-go.yaml', 'utf8')) as { spec: { code: { inline: Record<string, string> } } }).spec.code.inline;
    expect(files['src/go.mod']).toBe((example['go.mod'] ?? '').replace('module hello', 'module orders'));
    expect(files['src/go.sum']).toBe(example['go.sum']);
    expect(files['src/main.go']).toContain('lambda.Start(handler)');
  });
});

describe('parseInitArgs', () => {
  it.each([
    { argv: ['hello'], values: { runtime: 'python3.12' }, out: { name: 'hello', runtime: 'python3.12', dir: 'hello' } },
    { argv: ['a1-b'], values: { runtime: 'go', dir: 'x/y' }, out: { name: 'a1-b', runtime: 'go', dir: 'x/y' } },
    { argv: ['p'], values: { runtime: 'provided' }, out: { name: 'p', runtime: 'provided', dir: 'p' } },
  ])('reads $argv $values', ({ argv, values, out }) => {
    expect(parseInitArgs(argv, values)).toEqual(out);
  });

  it.each([
    { argv: [], values: { runtime: 'go' }, error: 'name the function: hearth init NAME --runtime RUNTIME' },
    { argv: ['a', 'b'], values: { runtime: 'go' }, error: 'one function at a time, not a b' },
    { argv: ['Hello'], values: { runtime: 'go' }, error: '"Hello" is not a valid function name: it must be a lowercase DNS label' },
    { argv: ['1abc'], values: { runtime: 'go' }, error: 'is not a valid function name' },
    { argv: ['a_b'], values: { runtime: 'go' }, error: 'is not a valid function name' },
    { argv: ['ab-'], values: { runtime: 'go' }, error: 'is not a valid function name' },
    { argv: ['a'.repeat(64)], values: { runtime: 'go' }, error: 'is not a valid function name' },
    { argv: ['hello'], values: {}, error: '--runtime is required: one of nodejs20, nodejs22, python3.11, python3.12, python3.13, go, provided' },
    { argv: ['hello'], values: { runtime: 'ruby3.3' }, error: 'unknown runtime "ruby3.3": one of nodejs20,' },
    { argv: ['hello'], values: { runtime: 'nodejs20.x' }, error: "unknown runtime \"nodejs20.x\" (Hearth calls Lambda's nodejs20.x nodejs20)" },
  ])('refuses $argv $values', ({ argv, values, error }) => {
    expect(parseInitArgs(argv, values)).toContain(error);
  });

  it('the next steps deploy the YAML written and invoke the function by name', () => {
    const steps = nextSteps({ name: 'hello', runtime: 'python3.12', dir: 'fns/hello' });
    expect(steps).toContain('hearth up --dir functions');
    expect(steps).toContain('hearth deploy fns/hello/hello.yaml --dir functions');
    expect(steps).toContain('hearth invoke hello');
    expect(steps).toContain('hearth deploy fns/hello/hello.yaml --namespace NS');
  });
});

describe('hearth init writes the directory, and refuses what it must not touch', () => {
  const work = mkdtempSync(join(tmpdir(), 'hearth-init-'));

  it('writes NAME.yaml and src/ into ./NAME by default, the bootstrap executable', async () => {
    const r = await hearth({ cwd: work }, 'init', 'edge', '--runtime', 'provided');
    expect(r.code).toBe(0);
    expect(readdirSync(join(work, 'edge')).sort()).toEqual(['edge.yaml', 'src']);
    expect(statSync(join(work, 'edge', 'src', 'bootstrap')).mode & 0o111).not.toBe(0);
    expect(r.stdout).toContain('Created edge (provided) in edge/:\n  edge/edge.yaml\n  edge/src/bootstrap\n');
    expect(r.stdout).toContain('hearth deploy edge/edge.yaml --dir functions');
  });

  it('an empty directory is fine; a non-empty one, a file, a bad name or runtime exit 2 and write nothing', async () => {
    mkdirSync(join(work, 'empty'));
    expect((await hearth({ cwd: work }, 'init', 'empty', '--runtime', 'nodejs22', '--dir', join(work, 'empty'))).code).toBe(0);
    expect(existsSync(join(work, 'empty', 'src', 'index.mjs'))).toBe(true);

    const again = await hearth({ cwd: work }, 'init', 'edge', '--runtime', 'go', '--dir', join(work, 'edge'));
    expect([again.code, again.stderr]).toEqual([2, expect.stringContaining(`hearth init: ${join(work, 'edge')} is not empty (edge.yaml, src)`)]);
    expect(readdirSync(join(work, 'edge', 'src'))).toEqual(['bootstrap']);

    writeFileSync(join(work, 'file'), 'x');
    const file = await hearth({ cwd: work }, 'init', 'file', '--runtime', 'go', '--dir', join(work, 'file'));
    expect([file.code, file.stderr]).toEqual([2, expect.stringContaining('exists and is not a directory')]);

    const name = await hearth({ cwd: work }, 'init', 'Bad_Name', '--runtime', 'go', '--dir', join(work, 'bad'));
    expect([name.code, name.stderr]).toEqual([2, expect.stringContaining('"Bad_Name" is not a valid function name')]);
    const runtime = await hearth({ cwd: work }, 'init', 'good', '--runtime', 'java21', '--dir', join(work, 'bad'));
    expect([runtime.code, runtime.stderr]).toEqual([2, expect.stringContaining('unknown runtime "java21"')]);
    expect(existsSync(join(work, 'bad'))).toBe(false);
  });
});

describe('hearth init, then the printed steps, against hearth up: every runtime answers', () => {
  let platform: Platform;
  const work = mkdtempSync(join(tmpdir(), 'hearth-init-run-'));
  beforeAll(async () => {
    platform = await startPlatform({});
  }, 60_000);
  afterAll(async () => platform?.close());

  it.each(RUNTIMES.map((runtime) => ({ runtime, name: `hi-${runtime.replace('.', '-')}` })))(
    '$runtime: init, deploy, invoke',
    async ({ runtime, name }) => {
      const dir = join(work, name);
      const init = await hearth({ cwd: work }, 'init', name, '--runtime', runtime, '--dir', dir);
      expect(init.code).toBe(0);
      const deploy = await hearth({ cwd: work }, 'deploy', join(dir, `${name}.yaml`), '--dir', platform.dir);
      expect([deploy.code, deploy.stderr]).toEqual([0, '']);
      await waitFor(`${name} loaded`, () => platform.catalog.get(name), 10_000);
      // Go sources are built on the first call; HEARTH_URL as a user sets it.
      const invoked = await hearth({ env: { HEARTH_URL: platform.url } }, 'invoke', name, '--payload', '{"name":"Ada"}');
      expect([invoked.code, invoked.stderr]).toEqual([0, '']);
      expect(JSON.parse(invoked.stdout)).toEqual({ statusCode: 200, body: JSON.stringify(`Hello from ${name}!`) });
    },
    300_000,
  );

  it('as the steps say, editing the sources and deploying again updates the function', async () => {
    const name = 'hi-python3-12';
    const source = join(work, name, 'src', 'lambda_function.py');
    writeFileSync(source, readFileSync(source, 'utf8').replace(`Hello from ${name}!`, 'Edited!'));
    const deploy = await hearth({ cwd: work }, 'deploy', join(work, name, `${name}.yaml`), '--dir', platform.dir);
    expect(deploy.code).toBe(0);
    await waitFor(
      'the edited code answering',
      async () => {
        const r = await hearth({ env: { HEARTH_URL: platform.url } }, 'invoke', name);
        return r.code === 0 && (JSON.parse(r.stdout) as { body: string }).body === '"Edited!"';
      },
      30_000,
      200,
    );
  }, 60_000);
});
