// The controller's side of bad input: whatever a Function in the cluster
// holds (the CRD schema lets through what its structural checks cannot see,
// and objects written before a schema change are never re-validated), the
// controller's check never throws and refuses with a reason and a field
// path, and every spec it accepts builds its owned objects without throwing.
// So a bad Function gets Ready=False, never a crash loop.
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { buildCodeConfigMap } from '../../src/controller/resources/configmap.js';
import { buildDeployment } from '../../src/controller/resources/deployment.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { buildService } from '../../src/controller/resources/service.js';
import { buildServiceAccount } from '../../src/controller/resources/serviceaccount.js';
import { checkFunction } from '../../src/controller/resources/validation.js';
import { FaultLog } from '../faults/collector.js';

const log = FaultLog.forFile(import.meta.url);
afterAll(() => log.flush());

const images = defaultImages('0.0.0-test');
const RUNS = 2000;

const anything = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, '', -1, 0, 1e9, 'x'.repeat(300)));
const codes = fc.constantFrom<unknown>(
  { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } },
  { configMap: { name: 'src' } },
  { image: 'registry.example/fn:1' },
  { package: { configMap: { name: 'pkg', key: 'package.zip' } } },
  { package: { url: 'https://example.com/f.zip', sha256: 'a'.repeat(64) } },
  { package: { path: 'local.zip' } },
  {},
);
const valid = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } } };
/** A valid spec with a few fields replaced: most stay valid or nearly so, which is where the edges are. */
const overrides = fc.record(
  {
    runtime: fc.constantFrom<unknown>('python3.12', 'nodejs20', 'go', 'provided', 'cobol', 7),
    handler: fc.oneof(fc.constant('app.handler'), anything),
    code: fc.oneof(codes, anything),
    memoryMB: fc.oneof(fc.integer({ min: -10, max: 20_000 }), anything),
    timeoutSeconds: fc.oneof(fc.integer({ min: -1, max: 1000 }), anything),
    concurrency: fc.integer({ min: 0, max: 2000 }),
    replicas: fc.integer({ min: -1, max: 2000 }),
    scaling: fc.record({ minInstances: fc.integer({ min: -1, max: 20 }), maxInstances: fc.integer({ min: 0, max: 20 }) }, { requiredKeys: [] }),
    env: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('A', 'AWS_REGION', ''), fc.string({ maxLength: 8 })), value: fc.string({ maxLength: 40 }) }), { maxLength: 4 }),
    layers: fc.array(fc.oneof(codes, anything), { maxLength: 6 }),
    schedules: fc.array(fc.record({ name: fc.constantFrom('tick', 'Bad Name'), cron: fc.constantFrom('*/5 * * * *', 'never') }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const spec = fc
  .tuple(overrides, fc.integer({ min: 0, max: 3 }))
  .map(([o, keep]) => ({ ...valid, ...Object.fromEntries(Object.entries(o).slice(0, keep)) }));
const object = fc.record({
  apiVersion: fc.constant('hearth.dev/v1alpha1'),
  kind: fc.constant('Function'),
  metadata: fc.record({ name: fc.constantFrom('fn', 'fn', 'fn', 'Bad_Name', ''), namespace: fc.constant('team'), uid: fc.constant('uid-1'), generation: fc.nat(5) }),
  spec: fc.oneof(spec, anything),
});

it('never throws; refuses with a reason and a field path, or builds every owned object', async () => {
  await log.run('bad input', 'Functions as the controller sees them: random specs within and beyond the schema', 'Ready=False with InvalidSpec/UnsupportedSpec and a field path, or owned objects built; never a throw', async (rec) => {
    let refused = 0;
    let built = 0;
    fc.assert(
      fc.property(object, (obj) => {
        const checked = checkFunction(obj, images);
        if (!checked.ok) {
          expect(['InvalidSpec', 'UnsupportedSpec']).toContain(checked.reason);
          expect(checked.message.length).toBeGreaterThan(0);
          // A refusal names where: a field path such as spec.memoryMB or metadata.name.
          expect(checked.message).toMatch(/(spec|metadata|apiVersion|kind)[.[:]|spec:|metadata:/);
          refused++;
          return;
        }
        const input = { fn: checked.fn, meta: checked.meta };
        buildDeployment(input, { images });
        buildService(input);
        buildCodeConfigMap(input);
        buildServiceAccount(input);
        built++;
      }),
      { numRuns: RUNS },
    );
    // Both paths must be exercised, or the property says nothing.
    expect(built).toBeGreaterThan(RUNS / 20);
    expect(refused).toBeGreaterThan(RUNS / 20);
    rec.tried(RUNS);
    rec.observe(`${refused} refused with a reason and field path, ${built} built; no throw`);
  });
});
