// The environment of a local instance, as Lambda defines it: Lambda's own
// variables, the function's variables, and nothing of the host's.
import { randomBytes } from 'node:crypto';
import type { ConfigObjectSource } from '../../api/config-objects.js';
import { LATEST, type EnvVar, type Logging, type Runtime } from '../../api/function.js';
import { logSettings, runtimeLogEnv } from '../../agent/log-format.js';

/** The function's own variables; references resolve through the object store or fail naming the object and key. */
export function resolveFunctionEnv(functionName: string, env: readonly EnvVar[] | undefined, objects: ConfigObjectSource): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    if (e.valueFrom === undefined) {
      out[e.name] = e.value ?? '';
      continue;
    }
    const [kind, ref] = e.valueFrom.secretKeyRef ? (['Secret', e.valueFrom.secretKeyRef] as const) : (['ConfigMap', e.valueFrom.configMapKeyRef] as const);
    if (ref === undefined) continue;
    const found = objects.lookup(kind, ref.name, ref.key);
    const text = found.ok ? found.value.text : undefined;
    if (text !== undefined) out[e.name] = text;
    else if (ref.optional !== true) {
      // As the kubelet does: a ConfigMap's binaryData is for files, not variables.
      const reason = found.ok ? 'it is in binaryData, and env takes only keys of data' : found.reason;
      throw new Error(`function ${functionName}: env ${e.name} refers to ${kind} ${ref.name} key ${ref.key}: ${reason}`);
    }
  }
  return out;
}

/** What Lambda puts in AWS_EXECUTION_ENV; custom runtimes (go, provided) get none, as on Lambda. */
export function executionEnv(runtime: Runtime): string | undefined {
  if (runtime.startsWith('python')) return `AWS_Lambda_${runtime}`;
  if (runtime.startsWith('nodejs')) return `AWS_Lambda_${runtime}.x`;
  return undefined;
}

/** Lambda's stream name layout: YYYY/MM/DD/[VERSION]<32 hex>, the version being $LATEST or a number. */
export function logStreamName(now: Date, hex = randomBytes(16).toString('hex'), version: string = LATEST): string {
  const d = now.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${d}/[${version}]${hex}`;
}

export interface LambdaEnvInput {
  /** The function's name, never a unit key: the runtime sees NAME and the version apart, as on Lambda. */
  functionName: string;
  /** AWS_LAMBDA_FUNCTION_VERSION: $LATEST (the default) or the published version's number. */
  functionVersion?: string;
  runtime: Runtime;
  handler: string;
  memoryMB: number;
  concurrency: number;
  taskRoot: string;
  runtimeDir: string;
  region: string;
  /** PATH for the runtime: where its interpreter is, then the system's directories. */
  path: string;
  functionEnv: Readonly<Record<string, string>>;
  /** spec.logging: JSON adds AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL; a logGroup names the log group. */
  logging?: Logging | undefined;
}

/** Everything but AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_LOG_STREAM_NAME, which are per instance. */
export function lambdaEnv(i: LambdaEnvInput): Record<string, string> {
  const env: Record<string, string> = {
    ...i.functionEnv,
    AWS_LAMBDA_FUNCTION_NAME: i.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(i.memoryMB),
    AWS_LAMBDA_FUNCTION_VERSION: i.functionVersion ?? LATEST,
    AWS_LAMBDA_LOG_GROUP_NAME: i.logging?.logGroup ?? `/aws/lambda/${i.functionName}`,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_MAX_CONCURRENCY: String(i.concurrency),
    _HANDLER: i.handler,
    LAMBDA_TASK_ROOT: i.taskRoot,
    LAMBDA_RUNTIME_DIR: i.runtimeDir,
    AWS_REGION: i.region,
    AWS_DEFAULT_REGION: i.region,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: i.path,
    ...runtimeLogEnv(logSettings(i.logging)),
  };
  const exec = executionEnv(i.runtime);
  if (exec !== undefined) env.AWS_EXECUTION_ENV = exec;
  return env;
}

/** The environment of a generic warm-pool process: only what any runtime needs to start. */
export function poolEnv(path: string, runtimeDir: string): Record<string, string> {
  return { PATH: path, LANG: 'en_US.UTF-8', TZ: ':UTC', LAMBDA_RUNTIME_DIR: runtimeDir, HEARTH_SPECIALIZE: 'stdin' };
}

export function runtimePath(interpreterDir: string | undefined): string {
  const dirs = [interpreterDir, '/usr/local/bin', '/usr/bin', '/bin'].filter((d): d is string => d !== undefined);
  return [...new Set(dirs)].join(':');
}
