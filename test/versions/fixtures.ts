// Functions and published versions made by hand, for tests of what runs them
// (units, routing, the unit catalog, the dispatcher) without the version stores.
import { API_VERSION, FunctionSchema, FunctionSpecSchema, type AliasInput, type FunctionSpecInput, type HearthFunction } from '../../src/api/function.js';
import { FunctionVersionSchema, VERSION_KIND, type FunctionVersion } from '../../src/api/function-version.js';
import { snapshotDigest } from '../../src/versions/snapshot.js';

/** Inline Node code answering `answer` (and what the runtime told it of itself). */
export function codeAnswering(answer: string): FunctionSpecInput['code'] {
  return {
    inline: {
      'index.mjs': `export const handler = async (_e, ctx) => ({ answer: ${JSON.stringify(answer)}, name: process.env.AWS_LAMBDA_FUNCTION_NAME, version: process.env.AWS_LAMBDA_FUNCTION_VERSION, stream: process.env.AWS_LAMBDA_LOG_STREAM_NAME, arn: ctx.invokedFunctionArn });`,
    },
  };
}

export function functionOf(name: string, spec: Partial<FunctionSpecInput> = {}, aliases: AliasInput[] = []): HearthFunction {
  return FunctionSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Function',
    metadata: { name },
    spec: { runtime: 'nodejs20', handler: 'index.handler', code: codeAnswering('latest'), ...spec, ...(aliases.length > 0 ? { aliases } : {}) },
  });
}

/** Version `n` of `name`, running `spec` (parsed, so defaults are filled as a store's snapshot would have them). */
export function versionOf(name: string, n: string, spec: Partial<FunctionSpecInput> = {}): FunctionVersion {
  const snapshot = FunctionSpecSchema.parse({ runtime: 'nodejs20', handler: 'index.handler', code: codeAnswering(`v${n}`), ...spec });
  return FunctionVersionSchema.parse({
    apiVersion: API_VERSION,
    kind: VERSION_KIND,
    metadata: { name: `${name}-v${n}` },
    spec: { function: name, version: n, codeSha256: snapshotDigest(snapshot), snapshot },
  });
}
