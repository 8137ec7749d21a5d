// Lambda's runtime identifiers and Hearth's runtimes, both ways. Pure.
import { RUNTIMES, type Runtime } from '../api/function.js';
import { badParameter } from '../gateway/lambda-errors.js';

/** What Lambda calls each Hearth runtime. Go functions run as a custom runtime on Lambda today. */
const LAMBDA_RUNTIME: Record<Runtime, string> = {
  nodejs20: 'nodejs20.x',
  nodejs22: 'nodejs22.x',
  'python3.11': 'python3.11',
  'python3.12': 'python3.12',
  'python3.13': 'python3.13',
  go: 'provided.al2023',
  provided: 'provided.al2023',
};

/** Lambda ids Hearth runs, and as what: both custom runtimes run a `bootstrap` from the package or image. */
const HEARTH_RUNTIME: Record<string, Runtime> = {
  'nodejs20.x': 'nodejs20',
  'nodejs22.x': 'nodejs22',
  'python3.11': 'python3.11',
  'python3.12': 'python3.12',
  'python3.13': 'python3.13',
  'provided.al2023': 'provided',
  'provided.al2': 'provided',
};

export function lambdaRuntime(runtime: Runtime): string {
  return LAMBDA_RUNTIME[runtime];
}

/** The Hearth runtime for a Lambda runtime id; InvalidParameterValueException for one Hearth does not run (go1.x is refused as Lambda refuses it). */
export function hearthRuntime(id: string): Runtime {
  if (id === 'go1.x') {
    throw badParameter('The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime (provided.al2023) while creating or updating functions.');
  }
  const r = HEARTH_RUNTIME[id];
  if (r === undefined) {
    throw badParameter(`Value ${id} at 'runtime' failed to satisfy constraint: this gateway runs ${Object.keys(HEARTH_RUNTIME).join(', ')}`);
  }
  return r;
}

/** Every Hearth runtime has a Lambda id (checked by the tests), so a function read back names one Lambda knows. */
export const RUNTIME_IDS: readonly string[] = RUNTIMES.map(lambdaRuntime);
