// The configuration members CreateFunction and UpdateFunctionConfiguration
// share, read from the body and applied to the spec as written. What a body
// leaves out stays as it is. Environment.Variables replaces the plain
// variables and keeps references to Secrets and ConfigMaps (which the API
// never shows). Role names the ServiceAccount (role.ts). Pure.
import { LIMITS, type EnvVar, type FunctionSpecInput, type Runtime } from '../api/function.js';
import { applyLogging, readLoggingConfig, type LoggingFields } from './logging-config.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { checkLayers, optionalInteger, optionalObject, optionalString, optionalStringMap, refuseUnsupported, type Body } from './body-fields.js';
import { serviceAccountOf } from './role.js';
import { hearthRuntime } from './runtimes.js';

export interface ConfigurationFields {
  runtime?: Runtime;
  handler?: string;
  description?: string;
  timeoutSeconds?: number;
  memoryMB?: number;
  ephemeralStorageMB?: number;
  /** Present when Role was given: the ServiceAccount, or undefined for the function's own. */
  role?: { serviceAccountName: string | undefined };
  /** Present when Environment was given: the plain variables. */
  variables?: Record<string, string>;
  /** Present when LoggingConfig was given: the members it named. */
  logging?: LoggingFields;
}

const ENV_NAME = /^[a-zA-Z]([a-zA-Z0-9_])+$/;

export function readConfiguration(body: Body, functionName: string): ConfigurationFields {
  refuseUnsupported(body);
  checkLayers(body);
  const out: ConfigurationFields = {};
  const runtime = optionalString(body, 'Runtime', 64);
  if (runtime !== undefined && runtime !== '') out.runtime = hearthRuntime(runtime);
  const handler = optionalString(body, 'Handler', 128);
  if (handler !== undefined && handler !== '') {
    if (/\s/.test(handler)) throw badParameter(`1 validation error detected: Value '${handler}' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+`);
    out.handler = handler;
  }
  const description = optionalString(body, 'Description', 256);
  if (description !== undefined) out.description = description;
  const timeout = optionalInteger(body, 'Timeout', LIMITS.timeoutSeconds.min, LIMITS.timeoutSeconds.max);
  if (timeout !== undefined) out.timeoutSeconds = timeout;
  const memory = optionalInteger(body, 'MemorySize', LIMITS.memoryMB.min, LIMITS.memoryMB.max);
  if (memory !== undefined) out.memoryMB = memory;
  const storage = optionalObject(body, 'EphemeralStorage');
  if (storage !== undefined) {
    const size = optionalInteger(storage, 'Size', LIMITS.ephemeralStorageMB.min, LIMITS.ephemeralStorageMB.max);
    if (size === undefined) throw badParameter('EphemeralStorage.Size is required');
    out.ephemeralStorageMB = size;
  }
  const role = optionalString(body, 'Role', 2048);
  if (role !== undefined && role !== '') out.role = { serviceAccountName: serviceAccountOf(role, functionName) };
  const env = optionalObject(body, 'Environment');
  if (env !== undefined) {
    const variables = optionalStringMap(env, 'Variables', 'Environment.Variables') ?? {};
    for (const k of Object.keys(variables)) {
      if (!ENV_NAME.test(k)) throw badParameter(`Environment.Variables: ${JSON.stringify(k)} is not a valid variable name (a letter, then letters, digits and _)`);
    }
    out.variables = variables;
  }
  const logging = optionalObject(body, 'LoggingConfig');
  if (logging !== undefined) out.logging = readLoggingConfig(logging);
  return out;
}

/** The spec with the fields applied; plain variables replaced, references kept. */
export function applyConfiguration(spec: FunctionSpecInput, f: ConfigurationFields): FunctionSpecInput {
  const next: FunctionSpecInput = { ...spec };
  if (f.runtime !== undefined) next.runtime = f.runtime;
  if (f.handler !== undefined) next.handler = f.handler;
  if (f.description !== undefined) {
    if (f.description === '') delete next.description;
    else next.description = f.description;
  }
  if (f.timeoutSeconds !== undefined) next.timeoutSeconds = f.timeoutSeconds;
  if (f.memoryMB !== undefined) next.memoryMB = f.memoryMB;
  if (f.ephemeralStorageMB !== undefined) next.ephemeralStorageMB = f.ephemeralStorageMB;
  if (f.role !== undefined) {
    if (f.role.serviceAccountName === undefined) delete next.serviceAccountName;
    else next.serviceAccountName = f.role.serviceAccountName;
  }
  if (f.variables !== undefined) {
    const refs: EnvVar[] = (spec.env ?? []).filter((e) => e.value === undefined);
    const taken = new Set(refs.map((e) => e.name));
    const clash = Object.keys(f.variables).find((k) => taken.has(k));
    if (clash !== undefined) throw badParameter(`Environment.Variables: ${clash} is set from a Secret or ConfigMap in the Function's spec; change it there`);
    const env = [...Object.entries(f.variables).map(([name, value]) => ({ name, value })), ...refs];
    if (env.length > 0) next.env = env;
    else delete next.env;
  }
  if (f.logging !== undefined) {
    const logging = applyLogging(spec.logging, f.logging);
    if (logging !== undefined) next.logging = logging;
    else delete next.logging;
  }
  return next;
}
