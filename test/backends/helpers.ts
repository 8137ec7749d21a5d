// Building Functions for the local backend tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateConfigObject } from '../../src/api/config-objects.js';
import { FunctionSchema, type FunctionSpecInput, type HearthFunction } from '../../src/api/function.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { REPO_ROOT } from '../agent/helpers.js';

export function fn(name: string, spec: Partial<FunctionSpecInput> = {}): HearthFunction {
  return FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name },
    spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': 'export const handler = async () => 1;' } }, ...spec },
  });
}

export function example(file: string): HearthFunction {
  return FunctionSchema.parse(parse(readFileSync(join(REPO_ROOT, 'examples', file), 'utf8')));
}

/** An object store holding these ConfigMap and Secret manifests. */
export function objectsOf(...docs: unknown[]): ObjectStore {
  const store = new ObjectStore('this test');
  store.replace(
    docs.map((d) => {
      const r = validateConfigObject(d);
      if (!r.ok) throw new Error(`invalid manifest: ${JSON.stringify(r.problems)}`);
      return r.value;
    }),
  );
  return store;
}
