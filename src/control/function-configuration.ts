// Lambda's FunctionConfiguration (GetFunctionConfiguration, ListFunctions,
// CreateFunction, Update*, PublishVersion, ListVersionsByFunction) and
// GetFunction's answer, built from a stored Function and what the platform
// observed of it, or from a published version. Pure.
import { createHash } from 'node:crypto';
import { effectiveHandler, inlineCodeBytes, LATEST, type FunctionSpec } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';
import type { StoredFunction } from '../store/function-store.js';
import { functionState } from './function-state.js';
import { codeSha256, functionRevisionId, lambdaTime, revisionId } from './revision.js';
import { roleArn } from './role.js';
import { lambdaRuntime } from './runtimes.js';
import { loggingConfig } from './logging-config.js';

export interface ConfigurationContext {
  /** The function's unqualified ARN. */
  functionArn: string;
  /** The account of this gateway's ARNs (for the Role ARN). */
  accountId: string;
  /** Lambda's name of the architecture functions run on here. */
  architecture: 'x86_64' | 'arm64';
}

/** Lambda's name for Node's process.arch. */
export function lambdaArchitecture(arch: string): 'x86_64' | 'arm64' {
  return arch === 'arm64' ? 'arm64' : 'x86_64';
}

/** The plain environment variables (references to Secrets and ConfigMaps are not shown: their values are not the API's to reveal). */
export function plainVariables(spec: Pick<FunctionSpec, 'env'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of spec.env ?? []) if (e.value !== undefined) out[e.name] = e.value;
  return out;
}

/**
 * The hex digest Lambda calls the function's CodeSha256: a package's own
 * digest (what UpdateFunctionCode's caller can compute from its ZIP), and
 * for code that is no single archive (inline files, a ConfigMap, an image
 * reference) a digest of how the spec names it.
 */
export function codeDigest(spec: Pick<FunctionSpec, 'code'>): string {
  const sha = spec.code.package?.sha256;
  if (sha !== undefined) return sha;
  const files = spec.code.inline;
  const named = files !== undefined ? Object.keys(files).sort().map((k) => [k, files[k]]) : spec.code;
  return createHash('sha256').update(JSON.stringify(named)).digest('hex');
}

/** Bytes of the code where the spec holds them; `known` for a package whose size the caller knows (an upload's, which Uploads tells). */
export function codeSize(spec: Pick<FunctionSpec, 'code'>, known?: number): number {
  if (spec.code.inline !== undefined) return inlineCodeBytes(spec.code.inline);
  return known ?? 0;
}

function common(ctx: ConfigurationContext, name: string, runs: FunctionSpec, qualifier: string): Record<string, unknown> {
  const variables = plainVariables(runs);
  return {
    FunctionName: name,
    FunctionArn: `${ctx.functionArn}:${qualifier}`,
    Runtime: lambdaRuntime(runs.runtime),
    Role: roleArn(ctx.accountId, name, runs.serviceAccountName),
    Handler: effectiveHandler(runs),
    MemorySize: runs.memoryMB,
    Timeout: runs.timeoutSeconds,
    EphemeralStorage: { Size: runs.ephemeralStorageMB },
    PackageType: runs.code.image !== undefined ? 'Image' : 'Zip',
    Architectures: [ctx.architecture],
    Version: qualifier,
    ...(Object.keys(variables).length > 0 ? { Environment: { Variables: variables } } : {}),
    TracingConfig: { Mode: 'PassThrough' },
    LoggingConfig: loggingConfig(name, runs.logging),
  };
}

/** The FunctionConfiguration of $LATEST as stored, with its State from what the platform observed. */
export function latestConfiguration(ctx: ConfigurationContext, stored: StoredFunction, knownCodeSize?: number): Record<string, unknown> {
  const { fn } = stored;
  const spec = fn.spec;
  const modified = lambdaTime(stored.lastModified);
  return {
    ...common(ctx, fn.metadata.name, spec, LATEST),
    Description: spec.description ?? '',
    CodeSha256: codeSha256(codeDigest(spec)),
    CodeSize: codeSize(spec, knownCodeSize),
    ...(modified !== undefined ? { LastModified: modified } : {}),
    RevisionId: functionRevisionId(stored.revision),
    ...functionState(stored.observation),
  };
}

function creationTimestamp(v: FunctionVersion): string | undefined {
  const ts = (v.metadata as { creationTimestamp?: unknown }).creationTimestamp;
  return typeof ts === 'string' ? ts : undefined;
}

/**
 * The FunctionConfiguration of a published version. A version is immutable
 * and is served as soon as it exists, so it is Active. `qualifier` is what
 * the caller named it by (an alias, for GetFunction with one). Its
 * CodeSha256 is its code's, as $LATEST's is (the snapshot digest, which also
 * covers the configuration, stays Hearth's own: RevisionId, and whether a
 * publish changed anything).
 */
export function versionConfiguration(ctx: ConfigurationContext, version: FunctionVersion, qualifier = version.spec.version, knownCodeSize?: number): Record<string, unknown> {
  const runs = version.spec.snapshot;
  const modified = lambdaTime(creationTimestamp(version));
  return {
    ...common(ctx, version.spec.function, runs, qualifier),
    Version: version.spec.version,
    Description: version.spec.description ?? runs.description ?? '',
    CodeSha256: codeSha256(codeDigest(runs)),
    CodeSize: codeSize(runs, knownCodeSize),
    ...(modified !== undefined ? { LastModified: modified } : {}),
    RevisionId: revisionId({ version: version.spec.version, digest: version.spec.codeSha256, description: version.spec.description }),
    State: 'Active',
    LastUpdateStatus: 'Successful',
  };
}

/** GetFunction's Code: where the package can be downloaded (a URL that expires), or the image. */
export function codeLocation(spec: Pick<FunctionSpec, 'code'>, location: string | undefined): Record<string, unknown> {
  if (spec.code.image !== undefined) return { RepositoryType: 'ECR', ImageUri: spec.code.image, ResolvedImageUri: spec.code.image };
  return { RepositoryType: 'S3', ...(location !== undefined ? { Location: location } : {}) };
}
