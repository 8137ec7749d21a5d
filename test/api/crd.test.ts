import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILE, MAPPING_CRD_FILE, POOL_CRD_FILE, VERSION_CRD_FILE, crdFiles, eventSourceMappingCrdYaml, functionCrd, functionCrdYaml, functionVersionCrd, functionVersionCrdYaml, warmPoolCrd, warmPoolCrdYaml } from '../../src/api/crd.js';
import { POOL_RUNTIMES, WarmPoolSpecSchema } from '../../src/api/warm-pool.js';

type Node = Record<string, unknown>;

/** Walks a schema and reports what a structural schema may not contain. */
function structuralProblems(node: Node, path = 'openAPIV3Schema'): string[] {
  const problems: string[] = [];
  const hasType = typeof node.type === 'string' || node['x-kubernetes-int-or-string'] === true;
  if (!hasType) problems.push(`${path}: no type`);
  for (const bad of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'nullable', 'additionalItems', 'patternProperties', 'propertyNames', 'definitions', '$schema']) {
    if (bad in node) problems.push(`${path}: has ${bad}`);
  }
  if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
  if (node.properties && node.additionalProperties) problems.push(`${path}: properties and additionalProperties`);
  for (const [k, v] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) problems.push(...structuralProblems(v, `${path}.${k}`));
  if (node.items) problems.push(...structuralProblems(node.items as Node, `${path}[]`));
  if (typeof node.additionalProperties === 'object') problems.push(...structuralProblems(node.additionalProperties as Node, `${path}{}`));
  return problems;
}

describe('Function CRD', () => {
  it('in crds/ is what the schema generates (run `npm run gen:crd` after changing src/api/function.ts)', () => {
    expect(readFileSync(CRD_FILE, 'utf8')).toBe(functionCrdYaml());
  });

  const crd = parse(readFileSync(CRD_FILE, 'utf8')) as Node;
  const spec = crd.spec as Node;
  const version = (spec.versions as Node[])[0] as Node;
  const schema = (version.schema as Node).openAPIV3Schema as Node;

  it('is an apiextensions.k8s.io/v1 CRD for hearth.dev/v1alpha1 Function', () => {
    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'functions.hearth.dev' } });
    expect(spec).toMatchObject({ group: 'hearth.dev', scope: 'Namespaced', names: { kind: 'Function', plural: 'functions', singular: 'function', shortNames: ['fn'] } });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has the status and scale subresources', () => {
    expect(version.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
  });

  it('prints Runtime, Ready, Instances, the latest version, the aliases and Age', () => {
    expect((version.additionalPrinterColumns as Node[]).map((c) => c.name)).toEqual(['Runtime', 'Ready', 'Instances', 'Latest', 'Aliases', 'Age']);
    expect((version.additionalPrinterColumns as Node[]).slice(3, 5).map((c) => c.jsonPath)).toEqual(['.status.latestVersion', '.status.aliases']);
  });

  it('has a structural schema', () => {
    expect(structuralProblems(schema)).toEqual([]);
  });

  it('carries defaults, enums, bounds and CEL rules', () => {
    const props = ((schema.properties as Node).spec as Node).properties as Record<string, Node>;
    expect(props.memoryMB).toMatchObject({ type: 'integer', minimum: 128, maximum: 10240, default: 128 });
    expect(props.timeoutSeconds).toMatchObject({ minimum: 1, maximum: 900, default: 3 });
    expect(props.runtime?.enum).toContain('python3.12');
    expect(props.scaling).toMatchObject({ default: {} });
    const rules = ((props.code as Node)['x-kubernetes-validations'] as Node[]).map((r) => r.rule);
    expect(rules.some((r) => String(r).includes('has(self.inline)'))).toBe(true);
  });

  it('is generated deterministically', () => {
    expect(functionCrd()).toEqual(functionCrd());
  });
});

describe('FunctionVersion CRD', () => {
  it('in crds/ is what the schema generates (run `npm run gen:crd` after changing src/api/function-version.ts)', () => {
    expect(readFileSync(VERSION_CRD_FILE, 'utf8')).toBe(functionVersionCrdYaml());
  });

  it('is generated beside the Function CRD, and the chart carries the same files', () => {
    expect(crdFiles().map((f) => f.file)).toEqual([CRD_FILE, VERSION_CRD_FILE, POOL_CRD_FILE, MAPPING_CRD_FILE]);
    for (const { file, yaml } of crdFiles()) expect(readFileSync(`charts/hearth/${file}`, 'utf8'), `charts/hearth/${file}`).toBe(yaml);
  });

  const crd = parse(readFileSync(VERSION_CRD_FILE, 'utf8')) as Node;
  const spec = crd.spec as Node;
  const version = (spec.versions as Node[])[0] as Node;
  const schema = (version.schema as Node).openAPIV3Schema as Node;

  it('is a namespaced hearth.dev/v1alpha1 FunctionVersion in the hearth category, short name fnv', () => {
    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'functionversions.hearth.dev' } });
    expect(spec).toMatchObject({
      group: 'hearth.dev', scope: 'Namespaced',
      names: { kind: 'FunctionVersion', plural: 'functionversions', singular: 'functionversion', shortNames: ['fnv'], categories: ['hearth'] },
    });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has the status and scale subresources (the gateway scales a version through spec.replicas)', () => {
    expect(version.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
  });

  it('prints Function, Version, Ready, Instances and Age', () => {
    expect((version.additionalPrinterColumns as Node[]).map((c) => [c.name, c.jsonPath])).toEqual([
      ['Function', '.spec.function'],
      ['Version', '.spec.version'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
      ['Instances', '.status.readyInstances'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('has a structural schema', () => {
    expect(structuralProblems(schema)).toEqual([]);
  });

  it('keeps a published version immutable with a transition rule on the spec', () => {
    const specSchema = (schema.properties as Node).spec as Node;
    const rules = (specSchema['x-kubernetes-validations'] as Node[]).map((r) => String(r.rule));
    expect(rules.some((r) => r.includes('self.snapshot == oldSelf.snapshot') && r.includes('self.codeSha256 == oldSelf.codeSha256'))).toBe(true);
    expect(specSchema.required).toEqual(expect.arrayContaining(['function', 'version', 'codeSha256', 'snapshot']));
  });

  it('is generated deterministically', () => {
    expect(functionVersionCrd()).toEqual(functionVersionCrd());
  });
});

describe('WarmPool CRD', () => {
  it('in crds/ is what the schema generates (run `npm run gen:crd` after changing src/api/warm-pool.ts)', () => {
    expect(readFileSync(POOL_CRD_FILE, 'utf8')).toBe(warmPoolCrdYaml());
  });

  const crd = parse(readFileSync(POOL_CRD_FILE, 'utf8')) as Node;
  const spec = crd.spec as Node;
  const version = (spec.versions as Node[])[0] as Node;
  const schema = (version.schema as Node).openAPIV3Schema as Node;
  const specProps = ((schema.properties as Node).spec as Node).properties as Record<string, Node>;

  it('is a namespaced hearth.dev/v1alpha1 WarmPool in the hearth category, short name wp (kubectl get warmpools, wp, hearth)', () => {
    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'warmpools.hearth.dev' } });
    expect(spec).toMatchObject({
      group: 'hearth.dev', scope: 'Namespaced',
      names: { kind: 'WarmPool', listKind: 'WarmPoolList', plural: 'warmpools', singular: 'warmpool', shortNames: ['wp'], categories: ['hearth'] },
    });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has the status subresource and no scale subresource (the controller sizes a pool from its claims, nothing scales it)', () => {
    expect(version.subresources).toEqual({ status: {} });
  });

  it('prints Runtime, Desired, Ready, Claims, Per-Minute and Age', () => {
    expect((version.additionalPrinterColumns as Node[]).map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Runtime', 'string', '.spec.runtime'],
      ['Desired', 'integer', '.status.desiredSize'],
      ['Ready', 'integer', '.status.readyPods'],
      ['Claims', 'integer', '.status.claims'],
      ['Per-Minute', 'number', '.status.claimsPerMinute'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
  });

  it('has a structural schema', () => {
    expect(structuralProblems(schema)).toEqual([]);
  });

  it('carries the runtimes, defaults and bounds, and needs only the runtime', () => {
    expect(specProps.runtime?.enum).toEqual(['python', 'nodejs']);
    expect(specProps.minSize).toMatchObject({ type: 'integer', minimum: 0, maximum: 100, default: 1 });
    expect(specProps.maxSize).toMatchObject({ type: 'integer', minimum: 0, maximum: 100, default: 10 });
    expect(specProps.memoryMB).toMatchObject({ type: 'integer', minimum: 128, maximum: 10240, default: 128 });
    expect(specProps.ephemeralStorageMB).toMatchObject({ type: 'integer', minimum: 512, maximum: 10240, default: 512 });
    expect(((schema.properties as Node).spec as Node).required).toEqual(['runtime']);
  });

  it('refuses minSize above maxSize, in the API server (CEL) as in the zod schema', () => {
    const rules = ((schema.properties as Node).spec as Node)['x-kubernetes-validations'] as Node[];
    expect(rules).toEqual([{ rule: 'self.minSize <= self.maxSize', message: 'minSize must not exceed maxSize', fieldPath: '.minSize' }]);
    expect(WarmPoolSpecSchema.safeParse({ runtime: 'python', minSize: 6, maxSize: 5 }).success).toBe(false);
    expect(WarmPoolSpecSchema.safeParse({ runtime: 'python', minSize: 5, maxSize: 5 }).success).toBe(true);
    // The defaults alone satisfy the rule (the API server checks it after defaulting).
    expect(WarmPoolSpecSchema.parse({ runtime: 'nodejs' })).toEqual({ runtime: 'nodejs', minSize: 1, maxSize: 10, memoryMB: 128, ephemeralStorageMB: 512 });
  });

  it('has the bounds the chart\'s values.schema.json gives pools.runtimes.*, and the chart\'s default pools are valid WarmPools', () => {
    const values = JSON.parse(readFileSync('charts/hearth/values.schema.json', 'utf8')) as Node;
    const runtimes = ((((values.properties as Node).pools as Node).properties as Node).runtimes as Node).properties as Record<string, Node>;
    expect(Object.keys(runtimes).sort()).toEqual([...POOL_RUNTIMES].sort());
    const chartValues = parse(readFileSync('charts/hearth/values.yaml', 'utf8')) as { pools: { runtimes: Record<string, Record<string, unknown>> } };
    for (const runtime of POOL_RUNTIMES) {
      const props = (runtimes[runtime]?.properties ?? {}) as Record<string, Node>;
      for (const field of ['minSize', 'maxSize', 'memoryMB', 'ephemeralStorageMB']) {
        expect(props[field], `${runtime}.${field}`).toMatchObject({ type: 'integer', minimum: specProps[field]?.minimum, maximum: specProps[field]?.maximum });
      }
      const { enabled, ...poolSpec } = chartValues.pools.runtimes[runtime] ?? {};
      expect(enabled, runtime).toBe(true);
      expect(WarmPoolSpecSchema.parse({ runtime, ...poolSpec }), runtime).toEqual({ runtime, minSize: 1, maxSize: 5, memoryMB: 128, ephemeralStorageMB: 512 });
    }
  });

  it('is generated deterministically', () => {
    expect(warmPoolCrd()).toEqual(warmPoolCrd());
  });
});

describe('Function reference in README.md', () => {
  it('is what the schema generates (run `npm run gen:crd`)', async () => {
    const { withReference } = await import('../../src/api/reference.js');
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toBe(withReference(readme));
  });
});

describe('EventSourceMapping CRD', () => {
  it('in crds/ is what the schema generates (run `npm run gen:crd` after changing src/api/event-source-mapping.ts)', () => {
    expect(readFileSync(MAPPING_CRD_FILE, 'utf8')).toBe(eventSourceMappingCrdYaml());
  });

  const crd = parse(readFileSync(MAPPING_CRD_FILE, 'utf8')) as Node;
  const spec = crd.spec as Node;
  const version = (spec.versions as Node[])[0] as Node;
  const schema = (version.schema as Node).openAPIV3Schema as Node;

  it('is a namespaced EventSourceMapping, short name esm, with a status and no scale subresource, and a structural schema', () => {
    expect(spec).toMatchObject({ group: 'hearth.dev', scope: 'Namespaced', names: { kind: 'EventSourceMapping', plural: 'eventsourcemappings', shortNames: ['esm'] } });
    expect(version.subresources).toEqual({ status: {} });
    expect(structuralProblems(schema)).toEqual([]);
  });

  it('prints Function, State, Lag, Last-Result and Age', () => {
    expect((version.additionalPrinterColumns as Node[]).map((c) => c.name)).toEqual(['Function', 'State', 'Lag', 'Last-Result', 'Age']);
  });

  it('checks exactly one source and AT_TIMESTAMP with a timestamp in CEL too', () => {
    const rules = (((schema.properties as Node).spec as Node)['x-kubernetes-validations'] as Node[]).map((r) => String(r.rule));
    expect(rules).toEqual(['has(self.kafka) != has(self.redisStreams)', "(self.startingPosition == 'AT_TIMESTAMP') == has(self.startingPositionTimestamp)"]);
  });
});
