// A store's problems (spec field paths) as Lambda's callers know them: the
// request member first, the spec path after, so an error names what the
// caller sent and where Hearth keeps it. Pure.
import type { Problem } from '../api/validate.js';

/** Lambda's member for each spec field a control-plane request writes. */
const SPEC_FIELD: Record<string, string> = {
  runtime: 'Runtime',
  handler: 'Handler',
  code: 'Code',
  env: 'Environment.Variables',
  memoryMB: 'MemorySize',
  ephemeralStorageMB: 'EphemeralStorage.Size',
  timeoutSeconds: 'Timeout',
  reservedConcurrency: 'ReservedConcurrentExecutions',
  async: 'EventInvokeConfig',
  serviceAccountName: 'Role',
  description: 'Description',
  tags: 'Tags',
};

/** The alias fields of the Function, by their Lambda names. */
const ALIAS_FIELD: Record<string, string> = {
  name: 'Name',
  version: 'FunctionVersion',
  additionalVersionWeights: 'RoutingConfig.AdditionalVersionWeights',
  minInstances: 'MinInstances',
  description: 'Description',
};

/** "RoutingConfig.AdditionalVersionWeights["2"] (spec.aliases[0].additionalVersionWeights["2"]): must be at most 1". */
export function describeProblem(p: Problem): string {
  const alias = /^spec\.aliases\[\d+\]\.([A-Za-z]+)(.*)$/.exec(p.path);
  if (alias) {
    const field = ALIAS_FIELD[alias[1] as string];
    if (field !== undefined) return `${field}${alias[2] ?? ''} (${p.path}): ${p.message}`;
  }
  const spec = /^spec\.([A-Za-z]+)(.*)$/.exec(p.path);
  if (spec) {
    const field = SPEC_FIELD[spec[1] as string];
    if (field !== undefined) return `${field} (${p.path}): ${p.message}`;
  }
  return `${p.path || '(request)'}: ${p.message}`;
}
