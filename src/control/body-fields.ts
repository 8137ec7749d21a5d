// Reading the members of a Lambda control-plane request body, each refused
// as Lambda does (400 InvalidParameterValueException naming the member) when
// it has the wrong type or lies outside its bounds. Pure.
import { badParameter } from '../gateway/lambda-errors.js';

export type Body = Record<string, unknown>;

const given = (v: unknown): boolean => v !== undefined && v !== null;

export function optionalString(body: Body, field: string, max: number): string | undefined {
  const v = body[field];
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw badParameter(`${field} must be a string`);
  if (v.length > max) throw badParameter(`1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  return v;
}

export function optionalInteger(body: Body, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (!given(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badParameter(`${field} must be an integer`);
  if (v < min) throw badParameter(`1 validation error detected: Value '${v}' at '${field}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
  if (v > max) throw badParameter(`1 validation error detected: Value '${v}' at '${field}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  return v;
}

export function optionalBoolean(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (!given(v)) return undefined;
  if (typeof v !== 'boolean') throw badParameter(`${field} must be true or false`);
  return v;
}

export function optionalObject(body: Body, field: string): Body | undefined {
  const v = body[field];
  if (!given(v)) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badParameter(`${field} must be an object`);
  return v as Body;
}

/** A map of strings to strings (Environment.Variables, Tags). */
export function optionalStringMap(body: Body, field: string, label = field): Record<string, string> | undefined {
  const v = body[field];
  if (!given(v)) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badParameter(`${label} must map names to strings`);
  for (const [k, s] of Object.entries(v as Body)) if (typeof s !== 'string') throw badParameter(`${label}["${k}"] must be a string`);
  return v as Record<string, string>;
}

export function optionalStringList(body: Body, field: string): string[] | undefined {
  const v = body[field];
  if (!given(v)) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw badParameter(`${field} must be a list of strings`);
  return v as string[];
}

/**
 * Members of Lambda's requests that name AWS services Hearth does not have
 * (VPCs, KMS keys, EFS, X-Ray, code signing, SnapStart, SQS/SNS dead-letter
 * targets). Given empty they are accepted (clients send them so); given
 * with a value they are refused, naming the member, rather than silently
 * ignored.
 */
const UNSUPPORTED: Record<string, (v: unknown) => boolean> = {
  VpcConfig: (v) => isEmptyDeep(v),
  KMSKeyArn: (v) => v === '',
  FileSystemConfigs: (v) => Array.isArray(v) && v.length === 0,
  CodeSigningConfigArn: (v) => v === '',
  ImageConfig: (v) => isEmptyDeep(v),
  SnapStart: (v) => isEmptyDeep(v) || (typeof v === 'object' && v !== null && (v as Body).ApplyOn === 'None'),
  DeadLetterConfig: (v) => isEmptyDeep(v),
  TracingConfig: (v) => isEmptyDeep(v) || (typeof v === 'object' && v !== null && (v as Body).Mode === 'PassThrough'),
  PublishTo: () => false,
  CapacityProviderConfig: (v) => isEmptyDeep(v),
  TenancyConfig: (v) => isEmptyDeep(v),
  DurableConfig: (v) => isEmptyDeep(v),
  S3Bucket: (v) => v === '',
  S3Key: (v) => v === '',
  S3ObjectVersion: (v) => v === '',
  SourceKMSKeyArn: (v) => v === '',
};

const WHY: Record<string, string> = {
  DeadLetterConfig: 'failed asynchronous events are kept in the function\'s own dead-letter stream (spec.async.deadLetterQueue, GET /dlq/NAME)',
  S3Bucket: 'send the package as ZipFile (base64), or name it in the Function\'s spec (code.package)',
  S3Key: 'send the package as ZipFile (base64), or name it in the Function\'s spec (code.package)',
  S3ObjectVersion: 'send the package as ZipFile (base64)',
};

function isEmptyDeep(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return true;
  if (Array.isArray(v)) return v.every(isEmptyDeep);
  if (typeof v === 'object') return Object.values(v as Body).every(isEmptyDeep);
  return false;
}

export function refuseUnsupported(body: Body, prefix = ''): void {
  for (const [field, empty] of Object.entries(UNSUPPORTED)) {
    const v = body[field];
    if (!given(v) || empty(v)) continue;
    throw badParameter(`${prefix}${field} is not supported by Hearth${WHY[field] !== undefined ? `: ${WHY[field]}` : ''}`);
  }
}

/** Lambda's Architectures: one of x86_64 or arm64; Hearth runs what its host runs. */
export function checkArchitectures(body: Body, host: string): void {
  const archs = optionalStringList(body, 'Architectures');
  if (archs === undefined || archs.length === 0) return;
  if (archs.length !== 1 || (archs[0] !== 'x86_64' && archs[0] !== 'arm64')) throw badParameter("Architectures must hold one of 'x86_64' or 'arm64'");
  if (archs[0] !== host) throw badParameter(`Architectures: this gateway runs functions on ${host}, not ${archs[0]}`);
}

/** Layers are ARNs of layer versions; Hearth has none to name (layers are packages in spec.layers), so only an empty list is taken. */
export function checkLayers(body: Body): void {
  const layers = optionalStringList(body, 'Layers');
  if (layers !== undefined && layers.length > 0) {
    throw badParameter('Layers: Hearth has no layer versions to name by ARN (no PublishLayerVersion); list layer packages in the Function\'s spec.layers instead');
  }
}
