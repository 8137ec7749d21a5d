// Functions, published versions and aliases made by hand, for tests of what
// runs and invokes them (units, routing, the unit catalog, the dispatcher,
// qualifiers and executed versions) without the version stores.
import type { MemoryCatalog } from '../../src/api/catalog.js';
import { API_VERSION, AliasSchema, FunctionSchema, FunctionSpecSchema, type AliasInput, type FunctionSpecInput, type HearthFunction } from '../../src/api/function.js';
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

/** Version `version` of `name`, running `spec` (parsed, so defaults are filled as a store's snapshot would have them). */
export function handVersion(name: string, version: string, spec: FunctionSpecInput): FunctionVersion {
  const snapshot = FunctionSpecSchema.parse(spec);
  return FunctionVersionSchema.parse({
    apiVersion: API_VERSION,
    kind: VERSION_KIND,
    metadata: { name: `${name}-v${version}` },
    spec: { function: name, version, codeSha256: snapshotDigest(snapshot), snapshot },
  });
}

/** Version `n` of `name`: Node code answering `vN` unless `spec` says otherwise. */
export function versionOf(name: string, n: string, spec: Partial<FunctionSpecInput> = {}): FunctionVersion {
  return handVersion(name, n, { runtime: 'nodejs20', handler: 'index.handler', code: codeAnswering(`v${n}`), ...spec });
}

/** Sets the function's published versions (number → what it runs) and its aliases; the function must be in the catalog already. */
export function setHandVersions(catalog: MemoryCatalog, name: string, versions: Record<string, FunctionSpecInput>, aliases: AliasInput[]): void {
  const fn = catalog.get(name);
  if (!fn) throw new Error(`no function ${name} in the catalog`);
  catalog.setVersions(name, Object.entries(versions).map(([n, spec]) => handVersion(name, n, spec)));
  catalog.set({ ...fn, spec: { ...fn.spec, aliases: aliases.map((a) => AliasSchema.parse(a)) } });
}
