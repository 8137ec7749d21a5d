// The Function resource, defined once. From this schema come the TypeScript
// types, the CRD in crds/ (see crd.ts) and the validation of local YAML files
// (see validate.ts). Everything a zod refinement checks that the API server
// should check too is mirrored as an `x-kubernetes-validations` CEL rule in
// the same place, so the two cannot be read apart.
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

export const GROUP = 'hearth.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Function';
export const PLURAL = 'functions';

/** Lambda's own limits, where Hearth follows them. */
export const LIMITS = {
  memoryMB: { min: 128, max: 10_240, default: 128 },
  ephemeralStorageMB: { min: 512, max: 10_240, default: 512 },
  timeoutSeconds: { min: 1, max: 900, default: 3 },
  environmentBytes: 4096,
  maxRetries: { min: 0, max: 2, default: 2 },
  maxEventAgeSeconds: { min: 60, max: 21_600, default: 21_600 },
  inlineCodeBytes: 512 * 1024,
  layers: 5,
  tags: 50,
  syncPayloadBytes: 6 * 1024 * 1024,
  asyncPayloadBytes: 1024 * 1024,
  responseBytes: 6 * 1024 * 1024,
  initTimeoutSeconds: 10,
} as const;

export const RUNTIMES = ['nodejs20', 'nodejs22', 'python3.11', 'python3.12', 'python3.13', 'go', 'provided'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Variables Lambda sets itself; a function may not override them. */
export const RESERVED_ENV = [
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
] as const;

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHA256 = /^[a-f0-9]{64}$/;

/** Lambda counts the environment as the bytes of its names and values. */
export function environmentBytes(env: readonly { name: string; value?: string | undefined }[]): number {
  return env.reduce((n, e) => n + Buffer.byteLength(e.name) + Buffer.byteLength(e.value ?? ''), 0);
}

export function inlineCodeBytes(files: Record<string, string>): number {
  return Object.entries(files).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

function exactlyOne(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  return keys.filter((k) => obj[k] !== undefined).length === 1;
}

const cel = (rule: string, message: string, fieldPath?: string) => ({ rule, message, ...(fieldPath ? { fieldPath } : {}) });

const ObjectKeyRef = z.strictObject({
  name: z.string().min(1).max(253).describe('Name of the object in the Function\'s namespace.'),
  key: z.string().min(1).max(253).describe('Key within the object.'),
  optional: z.boolean().optional().describe('Whether a missing object or key is allowed.'),
});

export const EnvVarSchema = z
  .strictObject({
    name: z.string().min(1).max(256).regex(ENV_NAME, 'must be a valid environment variable name').describe('Variable name.'),
    value: z.string().max(LIMITS.environmentBytes).optional().describe('Plain value.'),
    valueFrom: z
      .strictObject({
        secretKeyRef: ObjectKeyRef.optional().describe('A key of a Secret.'),
        configMapKeyRef: ObjectKeyRef.optional().describe('A key of a ConfigMap.'),
      })
      .refine((v) => exactlyOne(v, ['secretKeyRef', 'configMapKeyRef']), 'exactly one of secretKeyRef or configMapKeyRef must be set')
      .meta({ 'x-kubernetes-validations': [cel('[has(self.secretKeyRef), has(self.configMapKeyRef)].filter(x, x).size() == 1', 'exactly one of secretKeyRef or configMapKeyRef must be set')] })
      .optional()
      .describe('Take the value from a Secret or ConfigMap.'),
  })
  .refine((e) => !(e.value !== undefined && e.valueFrom !== undefined), { message: 'value and valueFrom are mutually exclusive', path: ['valueFrom'] })
  .refine((e) => !(RESERVED_ENV as readonly string[]).includes(e.name), { message: 'is reserved by the runtime', path: ['name'] })
  .meta({
    'x-kubernetes-validations': [
      cel('!(has(self.value) && has(self.valueFrom))', 'value and valueFrom are mutually exclusive'),
      cel(`!(self.name in [${RESERVED_ENV.map((n) => `'${n}'`).join(', ')}])`, 'this variable name is reserved by the runtime', '.name'),
    ],
  });
export type EnvVar = z.infer<typeof EnvVarSchema>;

export const PackageSourceSchema = z
  .strictObject({
    configMap: ObjectKeyRef.optional().describe('A ZIP file stored in a ConfigMap\'s binaryData under key.'),
    path: z.string().min(1).max(4096).optional().describe('A ZIP file on the local file system (embedded platform only), relative to the Function file.'),
    url: z.string().url().max(4096).optional().describe('An HTTP(S) URL of a ZIP file; sha256 is then required.'),
    sha256: z.string().regex(SHA256, 'must be 64 lowercase hex digits').optional().describe('SHA-256 digest of the ZIP file.'),
  })
  .refine((p) => exactlyOne(p, ['configMap', 'path', 'url']), 'exactly one of configMap, path or url must be set')
  .refine((p) => p.url === undefined || p.sha256 !== undefined, { message: 'is required when url is set', path: ['sha256'] })
  .meta({
    'x-kubernetes-validations': [
      cel('[has(self.configMap), has(self.path), has(self.url)].filter(x, x).size() == 1', 'exactly one of configMap, path or url must be set'),
      cel('!has(self.url) || has(self.sha256)', 'sha256 is required when url is set', '.sha256'),
    ],
  });
export type PackageSource = z.infer<typeof PackageSourceSchema>;

const CODE_SOURCES = ['inline', 'configMap', 'image', 'package'] as const;

export const CodeSchema = z
  .strictObject({
    inline: z
      .record(z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, 'file names may hold only letters, digits, -, _ and .'), z.string().max(LIMITS.inlineCodeBytes))
      .refine((f) => Object.keys(f).length > 0, 'must hold at least one file')
      .refine((f) => inlineCodeBytes(f) <= LIMITS.inlineCodeBytes, `inline code may not exceed ${LIMITS.inlineCodeBytes} bytes`)
      .meta({
        maxProperties: 100,
        'x-kubernetes-validations': [
          cel('self.size() > 0', 'must hold at least one file'),
          cel("self.all(f, f.matches('^[-._a-zA-Z0-9]+$'))", 'file names may hold only letters, digits, -, _ and .'),
        ],
      })
      .optional()
      .describe('Source files by name, written into the task root (LAMBDA_TASK_ROOT).'),
    configMap: z
      .strictObject({ name: z.string().min(1).max(253).describe('ConfigMap whose keys are the source files.') })
      .optional()
      .describe('Source files kept in a ConfigMap, one key per file.'),
    image: z.string().min(1).max(1024).optional().describe('A container image that speaks the Lambda Runtime API.'),
    package: PackageSourceSchema.optional().describe('A ZIP deployment package.'),
  })
  .refine((c) => exactlyOne(c, CODE_SOURCES), 'exactly one of inline, configMap, image or package must be set')
  .meta({
    'x-kubernetes-validations': [
      cel('[has(self.inline), has(self.configMap), has(self.image), has(self.package)].filter(x, x).size() == 1', 'exactly one of inline, configMap, image or package must be set'),
    ],
  });
export type Code = z.infer<typeof CodeSchema>;

export const DestinationSchema = z
  .strictObject({
    function: z.string().regex(DNS_LABEL).max(63).optional().describe('Invoke another Function (asynchronously) with the record.'),
    stream: z.string().min(1).max(256).optional().describe('Append the record to this Redis stream.'),
    url: z.string().url().max(4096).optional().describe('POST the record to this HTTP(S) URL.'),
  })
  .refine((d) => exactlyOne(d, ['function', 'stream', 'url']), 'exactly one of function, stream or url must be set')
  .meta({ 'x-kubernetes-validations': [cel('[has(self.function), has(self.stream), has(self.url)].filter(x, x).size() == 1', 'exactly one of function, stream or url must be set')] });
export type Destination = z.infer<typeof DestinationSchema>;

export const AsyncSchema = z
  .strictObject({
    maxRetries: z.number().int().min(LIMITS.maxRetries.min).max(LIMITS.maxRetries.max).default(LIMITS.maxRetries.default).describe('Retries after a function error.'),
    maxEventAgeSeconds: z.number().int().min(LIMITS.maxEventAgeSeconds.min).max(LIMITS.maxEventAgeSeconds.max).default(LIMITS.maxEventAgeSeconds.default).describe('Age after which an event is dead-lettered without running.'),
    onSuccess: DestinationSchema.optional().describe('Where a record of each successful event goes.'),
    onFailure: DestinationSchema.optional().describe('Where a record of each failed event goes.'),
    deadLetterQueue: z
      .strictObject({ enabled: z.boolean().default(true).describe('Keep failed events in the function\'s dead-letter stream.') })
      .prefault({})
      .describe('The function\'s dead-letter stream.'),
  })
  .describe('Asynchronous invocation settings.');
export type AsyncConfig = z.infer<typeof AsyncSchema>;

export const ScalingSchema = z
  .strictObject({
    minInstances: z.number().int().min(0).max(1000).default(0).describe('Provisioned instances: started at deploy time and always kept warm.'),
    maxInstances: z.number().int().min(1).max(1000).default(10).describe('Upper bound on instances.'),
    targetConcurrency: z.number().int().min(1).max(1000).optional().describe('Concurrent invocations per instance the autoscaler aims for (default: concurrency).'),
    targetUtilizationPercent: z.number().int().min(1).max(100).default(70).describe('Share of the target the autoscaler fills before adding instances.'),
    scaleToZeroGracePeriodSeconds: z.number().int().min(0).max(3600).default(30).describe('Idle time before the last non-provisioned instance stops.'),
    stableWindowSeconds: z.number().int().min(6).max(3600).default(60).describe('Averaging window for scaling decisions.'),
  })
  .refine((s) => s.minInstances <= s.maxInstances, { message: 'must not exceed maxInstances', path: ['minInstances'] })
  .meta({
    'x-kubernetes-validations': [
      // The API server also checks the rule against `default: {}`, before the fields' own defaults apply.
        cel('!has(self.minInstances) || !has(self.maxInstances) || self.minInstances <= self.maxInstances', 'minInstances must not exceed maxInstances', '.minInstances'),
    ],
  });
export type Scaling = z.infer<typeof ScalingSchema>;

export const ScheduleSchema = z.strictObject({
  name: z.string().regex(DNS_LABEL).max(63).describe('Name of the trigger.'),
  cron: z
    .string()
    .min(1)
    .max(256)
    .refine((c) => isValidCron(c), 'is not a valid cron expression')
    .describe('Cron expression (5 fields, or 6 with seconds).'),
  timezone: z.string().max(64).refine((tz) => isValidTimeZone(tz), 'is not a valid IANA time zone (e.g. UTC, Europe/Berlin)').optional().describe('IANA time zone (default UTC).'),
  payload: z.unknown().optional().meta({ 'x-kubernetes-preserve-unknown-fields': true, type: 'object' }).describe('Event sent on each tick, as is (default: Lambda\'s scheduled event).'),
  enabled: z.boolean().default(true).describe('Whether the trigger fires; false pauses it.'),
});
export type Schedule = z.infer<typeof ScheduleSchema>;

/**
 * An IANA zone name as the runtime's Intl knows it (links such as US/Eastern
 * included). Offsets like +01:00, which newer Intl versions take, are not zone
 * names and would change meaning between Node versions, so they are refused.
 */
export function isValidTimeZone(tz: string): boolean {
  if (!/^[A-Za-z][-A-Za-z0-9_+/]*$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function isValidCron(expr: string): boolean {
  try {
    CronExpressionParser.parse(expr);
    return expr.trim().split(/\s+/).length >= 5;
  } catch {
    return false;
  }
}

/** The editable version every function has; published versions are numbers. */
export const LATEST = '$LATEST';
/** A published version's number, as Lambda writes it: a decimal string from 1. */
export const VERSION_NUMBER = /^[1-9][0-9]{0,9}$/;
const ALIAS_NAME = /^[a-zA-Z0-9_-]+$/;

/** How a function URL answers: BUFFERED (the whole response at once, up to 6 MB) or RESPONSE_STREAM (as the function writes it). */
export const URL_INVOKE_MODES = ['BUFFERED', 'RESPONSE_STREAM'] as const;
export type UrlInvokeMode = (typeof URL_INVOKE_MODES)[number];

export const FunctionUrlSchema = z
  .strictObject({
    invokeMode: z.enum(URL_INVOKE_MODES).default('BUFFERED').describe("How the URL answers: BUFFERED (default) or RESPONSE_STREAM, as Lambda's function URL InvokeMode."),
  })
  .describe('The function URL (/fn/NAME[:ALIAS]/) settings.');
export type FunctionUrl = z.infer<typeof FunctionUrlSchema>;

export const AliasSchema = z
  .strictObject({
    name: z.string().min(1).max(128).regex(ALIAS_NAME, 'may hold only letters, digits, - and _').describe('Name of the alias: invoked as NAME:ALIAS.'),
    version: z
      .string()
      // The bound keeps the CEL rule that matches it within the API server's cost budget.
      .max(10)
      .refine((v) => v === LATEST || VERSION_NUMBER.test(v), 'must be a published version number or $LATEST')
      .describe('The version the alias points to: a published version number, or $LATEST.'),
    additionalVersionWeights: z
      .record(z.string().regex(VERSION_NUMBER, 'must be a published version number'), z.number().min(0).max(1))
      .refine((w) => Object.keys(w).length <= 1, 'at most one additional version may be given')
      .meta({ maxProperties: 1 })
      .optional()
      .describe('At most one other published version and the share of calls (0 to 1) it takes, as Lambda\'s RoutingConfig.AdditionalVersionWeights.'),
    minInstances: z.number().int().min(0).max(1000).default(0).describe('Provisioned instances of the alias, split between its versions by weight.'),
    description: z.string().max(256).optional().describe('What the alias is for.'),
    url: FunctionUrlSchema.optional().describe("The alias's own function URL (/fn/NAME:ALIAS/) settings; BUFFERED when unset."),
  })
  .refine((a) => a.name !== LATEST && !/^[0-9]+$/.test(a.name), { message: 'may not be a number or $LATEST', path: ['name'] })
  .refine((a) => a.additionalVersionWeights === undefined || a.version !== LATEST, { message: 'weighted routing needs a published version, not $LATEST', path: ['version'] })
  .refine((a) => a.additionalVersionWeights?.[a.version] === undefined, { message: 'may not name the alias\'s own version', path: ['additionalVersionWeights'] })
  .meta({
    'x-kubernetes-validations': [
      cel("!self.name.matches('^[0-9]+$')", 'an alias name may not be a number or $LATEST', '.name'),
      cel("self.version == '$LATEST' || self.version.matches('^[1-9][0-9]{0,9}$')", 'must be a published version number or $LATEST', '.version'),
      cel("!has(self.additionalVersionWeights) || self.version != '$LATEST'", 'weighted routing needs a published version, not $LATEST', '.version'),
      cel('!has(self.additionalVersionWeights) || !(self.version in self.additionalVersionWeights)', "may not name the alias's own version", '.additionalVersionWeights'),
      cel('!has(self.additionalVersionWeights) || self.additionalVersionWeights.all(k, self.additionalVersionWeights[k] >= 0.0 && self.additionalVersionWeights[k] <= 1.0)', 'weights must lie between 0 and 1', '.additionalVersionWeights'),
    ],
  });
export type Alias = z.infer<typeof AliasSchema>;
export type AliasInput = z.input<typeof AliasSchema>;

export const VersioningSchema = z
  .strictObject({
    publishOnChange: z.boolean().default(false).describe('Publish a new version whenever the code or configuration changes, as Knative makes a Revision.'),
    retain: z.number().int().min(1).max(1000).optional().describe('Keep at most this many versions (the newest); older ones no alias points to are deleted. Unset: versions are deleted only explicitly.'),
  })
  .describe('How versions are published and kept.');
export type Versioning = z.infer<typeof VersioningSchema>;

/** Lambda's advanced logging controls (LoggingConfig): LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup. */
export const LOG_FORMATS = ['Text', 'JSON'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
/** Most detail first, as Lambda orders them: a level keeps itself and everything after it. */
export const APPLICATION_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type ApplicationLogLevel = (typeof APPLICATION_LOG_LEVELS)[number];
export const SYSTEM_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN'] as const;
export type SystemLogLevel = (typeof SYSTEM_LOG_LEVELS)[number];
const LOG_GROUP = /^[.\-_/#A-Za-z0-9]+$/;
const LEVELS_NEED_JSON = 'applicationLogLevel and systemLogLevel need format JSON (Lambda filters by level only in JSON)';

export const LoggingSchema = z
  .strictObject({
    format: z.enum(LOG_FORMATS).default('Text').describe("Text (Lambda's plain lines, the default) or JSON: every line a JSON object with timestamp, level and requestId, and START/END/REPORT as platform.* records."),
    applicationLogLevel: z.enum(APPLICATION_LOG_LEVELS).optional().describe("JSON only: the function's lines below this level are dropped (default INFO)."),
    systemLogLevel: z.enum(SYSTEM_LOG_LEVELS).optional().describe('JSON only: platform records below this level are dropped (default INFO; WARN drops platform.start and platform.report).'),
    logGroup: z.string().min(1).max(512).regex(LOG_GROUP, 'may hold only letters, digits and . - _ / #').optional().describe("Lambda's LogGroup: shown to the runtime as AWS_LAMBDA_LOG_GROUP_NAME (default /aws/lambda/NAME)."),
  })
  .refine((l) => l.format === 'JSON' || (l.applicationLogLevel === undefined && l.systemLogLevel === undefined), { message: LEVELS_NEED_JSON, path: ['format'] })
  .meta({ 'x-kubernetes-validations': [cel("self.format == 'JSON' || (!has(self.applicationLogLevel) && !has(self.systemLogLevel))", LEVELS_NEED_JSON)] });
export type Logging = z.infer<typeof LoggingSchema>;

const NEEDS_HANDLER: readonly Runtime[] = ['nodejs20', 'nodejs22', 'python3.11', 'python3.12', 'python3.13'];

export const FunctionSpecSchema = z
  .strictObject({
    runtime: z.enum(RUNTIMES).describe('Language runtime.'),
    handler: z.string().min(1).max(128).optional().describe('Entry point, e.g. lambda_function.lambda_handler or index.handler.'),
    code: CodeSchema.describe('Where the function\'s code comes from: exactly one source.'),
    env: z
      .array(EnvVarSchema)
      .max(256)
      .refine((env) => environmentBytes(env) <= LIMITS.environmentBytes, `environment variables may not exceed ${LIMITS.environmentBytes} bytes in total`)
      .refine((env) => new Set(env.map((e) => e.name)).size === env.length, 'variable names must be unique')
      .meta({
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-validations': [
          cel(`self.map(e, size(e.name) + (has(e.value) ? size(e.value) : 0)).sum() <= ${LIMITS.environmentBytes}`, `environment variables may not exceed ${LIMITS.environmentBytes} bytes in total`),
        ],
      })
      .optional()
      .describe('Environment variables: plain values or references to Secrets and ConfigMaps.'),
    memoryMB: z.number().int().min(LIMITS.memoryMB.min).max(LIMITS.memoryMB.max).default(LIMITS.memoryMB.default).describe('Memory per instance, in MB.'),
    ephemeralStorageMB: z
      .number()
      .int()
      .min(LIMITS.ephemeralStorageMB.min)
      .max(LIMITS.ephemeralStorageMB.max)
      .default(LIMITS.ephemeralStorageMB.default)
      .describe('Size of /tmp per instance, in MB (Lambda\'s ephemeral storage).'),
    timeoutSeconds: z.number().int().min(LIMITS.timeoutSeconds.min).max(LIMITS.timeoutSeconds.max).default(LIMITS.timeoutSeconds.default).describe('Longest an invocation may run.'),
    concurrency: z.number().int().min(1).max(1000).default(1).describe('Invocations one instance runs at once.'),
    replicas: z.number().int().min(0).max(1000).optional().describe('Instances wanted now; written by the autoscaler through the scale subresource.'),
    scaling: ScalingSchema.prefault({}).describe('Autoscaling bounds and targets.'),
    reservedConcurrency: z.number().int().min(0).max(100_000).optional().describe('Cap on the function\'s concurrent invocations; calls beyond it are throttled.'),
    async: AsyncSchema.prefault({}),
    serviceAccountName: z.string().regex(DNS_LABEL).max(253).optional().describe('ServiceAccount the function runs as (its execution role); one is created when unset.'),
    schedules: z
      .array(ScheduleSchema)
      .max(10)
      .refine((s) => new Set(s.map((x) => x.name)).size === s.length, 'schedule names must be unique')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional()
      .describe('Cron triggers that invoke the function asynchronously.'),
    layers: z.array(PackageSourceSchema).max(LIMITS.layers).optional().describe('ZIP packages unpacked in order under /opt.'),
    aliases: z
      .array(AliasSchema)
      .max(100)
      .refine((a) => new Set(a.map((x) => x.name)).size === a.length, 'alias names must be unique')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional()
      .describe('Named pointers to versions, each with its own ARN, provisioned minimum and function URL; at most one additional version takes a weighted share of calls.'),
    versioning: VersioningSchema.prefault({}),
    url: FunctionUrlSchema.optional().describe('The function URL (/fn/NAME/) settings; BUFFERED when unset.'),
    logging: LoggingSchema.optional().describe("Lambda's advanced logging controls: format Text or JSON, and in JSON the levels kept."),
    description: z.string().max(256).optional().describe('What the function does (Lambda\'s Description).'),
    tags: z
      .record(z.string().min(1).max(128), z.string().max(256))
      .refine((t) => Object.keys(t).length <= LIMITS.tags, `at most ${LIMITS.tags} tags`)
      .meta({ maxProperties: LIMITS.tags })
      .optional()
      .describe('Key-value tags of the function (Lambda\'s Tags); they belong to the function, not to its versions.'),
  })
  .refine((s) => !NEEDS_HANDLER.includes(s.runtime) || s.handler !== undefined, { message: 'is required for this runtime', path: ['handler'] })
  .refine((s) => s.runtime !== 'provided' || s.code.image !== undefined || s.code.package !== undefined, {
    message: 'runtime provided needs an image or a package holding a bootstrap executable',
    path: ['code'],
  })
  .refine((s) => s.code.image === undefined || s.layers === undefined, { message: 'layers cannot be used with an image', path: ['layers'] })
  .meta({
    'x-kubernetes-validations': [
      cel(`!(self.runtime in [${NEEDS_HANDLER.map((r) => `'${r}'`).join(', ')}]) || has(self.handler)`, 'handler is required for this runtime', '.handler'),
      cel("self.runtime != 'provided' || has(self.code.image) || has(self.code.package)", 'runtime provided needs an image or a package holding a bootstrap executable', '.code'),
      cel('!has(self.code.image) || !has(self.layers)', 'layers cannot be used with an image', '.layers'),
    ],
  });
export type FunctionSpec = z.infer<typeof FunctionSpecSchema>;
export type FunctionSpecInput = z.input<typeof FunctionSpecSchema>;

export const ConditionSchema = z.strictObject({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().max(1024).optional(),
  message: z.string().max(32_768).optional(),
  lastTransitionTime: z.string().optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const FunctionStatusSchema = z.strictObject({
  conditions: z.array(ConditionSchema).optional().meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  observedGeneration: z.number().int().min(0).optional(),
  readyInstances: z.number().int().min(0).optional().describe('Instances ready to serve.'),
  desiredInstances: z.number().int().min(0).optional().describe('Instances the function should have.'),
  replicas: z.number().int().min(0).optional().describe('Instances that exist (scale subresource).'),
  selector: z.string().optional().describe('Label selector of the instances (scale subresource).'),
  url: z.string().optional().describe('Where the function can be invoked.'),
  schedules: z
    .array(
      z.strictObject({
        name: z.string().describe('Name of the trigger.'),
        nextRunTime: z.string().optional().describe('Next tick (RFC 3339); absent while the trigger is disabled.'),
      }),
    )
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .describe('Next run time of each schedule.'),
  latestVersion: z.string().optional().describe('The highest version number ever published (numbers are never reused).'),
  versions: z
    .array(
      z.strictObject({
        version: z.string().describe('Published version number.'),
        readyInstances: z.number().int().min(0).optional().describe('Instances of this version ready to serve.'),
        desiredInstances: z.number().int().min(0).optional().describe('Instances this version should have.'),
      }),
    )
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['version'] })
    .describe('The published versions and their instances.'),
  aliases: z.string().optional().describe('The aliases in short, e.g. live=2 canary=3+4@10%.'),
});
export type FunctionStatus = z.infer<typeof FunctionStatusSchema>;

export const MetadataSchema = z
  .object({
    name: z.string().min(1).max(63).regex(DNS_LABEL, 'must be a lowercase DNS label (a-z, 0-9, -; starting with a letter)'),
    namespace: z.string().max(63).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const FunctionSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: MetadataSchema,
  spec: FunctionSpecSchema,
  status: FunctionStatusSchema.optional(),
});
export type HearthFunction = z.infer<typeof FunctionSchema>;
export type HearthFunctionInput = z.input<typeof FunctionSchema>;

/** The handler a runtime uses when the spec names none (go and provided). */
export function effectiveHandler(spec: FunctionSpec): string {
  return spec.handler ?? (spec.runtime === 'go' ? 'bootstrap' : 'handler');
}

/** Per-instance concurrency the autoscaler aims for. */
export function targetConcurrency(spec: FunctionSpec): number {
  return spec.scaling.targetConcurrency ?? spec.concurrency;
}
