// Functions for the autoscaler suites, parsed through the real schema so
// defaults are the ones users get.
import { FunctionSchema, FunctionSpecSchema, type FunctionSpec, type FunctionSpecInput, type HearthFunction } from '../../src/api/function.js';

type SpecOverrides = Partial<Omit<FunctionSpecInput, 'scaling'>> & { scaling?: FunctionSpecInput['scaling'] };

export function specOf(overrides: SpecOverrides = {}): FunctionSpec {
  return FunctionSpecSchema.parse({
    runtime: 'nodejs20',
    handler: 'index.handler',
    code: { inline: { 'index.js': 'exports.handler = async () => 1;' } },
    ...overrides,
  });
}

export function functionOf(name: string, overrides: SpecOverrides = {}): HearthFunction {
  return FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec: specOf(overrides) });
}
