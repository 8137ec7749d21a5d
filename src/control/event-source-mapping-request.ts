// Lambda's CreateEventSourceMapping and UpdateEventSourceMapping requests as
// an EventSourceMapping's spec (src/api/event-source-mapping.ts), and the
// name a mapping made through the API gets. The API takes self-managed Kafka
// sources, as Lambda does; Redis Streams mappings (Hearth's own) are
// declared as objects (a file of the functions directory, kubectl apply).
// Credentials are never in the request: SourceAccessConfigurations name a
// Secret (URI k8s-secret:NAME, or a Secrets Manager ARN whose secret name is
// taken as the Secret's), whose keys `username` and `password` hold the SASL
// credentials and `ca.crt` the CA's PEM. Anything the spec has no place for
// is refused with a 400 naming it, never dropped. Pure.
import { createHash } from 'node:crypto';
import type { EventSourceMappingSpecInput, KafkaSource } from '../api/event-source-mapping.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { optionalBoolean, optionalInteger, optionalObject, optionalString, optionalStringList, type Body } from './body-fields.js';

/** Members both requests take, mapped below. */
const COMMON = [
  'FunctionName',
  'Enabled',
  'BatchSize',
  'MaximumBatchingWindowInSeconds',
  'FilterCriteria',
  'FunctionResponseTypes',
  'BisectBatchOnFunctionError',
  'MaximumRetryAttempts',
  'MaximumRecordAgeInSeconds',
  'DestinationConfig',
  'ScalingConfig',
  'SourceAccessConfigurations',
];
const CREATE_ONLY = ['SelfManagedEventSource', 'Topics', 'SelfManagedKafkaEventSourceConfig', 'StartingPosition', 'StartingPositionTimestamp', 'EventSourceArn'];

/** Secret keys the API's source access configurations name. */
export const SECRET_KEYS = { username: 'username', password: 'password', ca: 'ca.crt' } as const;

const SASL_TYPES: Record<string, NonNullable<KafkaSource['sasl']>['mechanism']> = {
  BASIC_AUTH: 'plain',
  SASL_SCRAM_256_AUTH: 'scram-sha-256',
  SASL_SCRAM_512_AUTH: 'scram-sha-512',
};

function refuseOthers(b: Body, allowed: readonly string[], op: string): void {
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined || v === null || allowed.includes(k)) continue;
    throw badParameter(`${k} is not supported by Hearth's ${op}`);
  }
}

/** The Secret a SourceAccessConfiguration's URI names: k8s-secret:NAME, or arn:…:secretsmanager:…:secret:NAME. */
export function secretNameOf(uri: string): string | undefined {
  const m = /^k8s-secret:([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(uri) ?? /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(uri);
  return m?.[1];
}

/** SourceAccessConfigurations as the Kafka source's sasl and tls. */
function accessOf(raw: unknown): Pick<KafkaSource, 'sasl' | 'tls'> {
  if (raw === undefined || raw === null) return {};
  if (!Array.isArray(raw)) throw badParameter('SourceAccessConfigurations must be a list of {Type, URI}');
  const out: Pick<KafkaSource, 'sasl' | 'tls'> = {};
  for (const [i, c] of raw.entries()) {
    const item = (c ?? {}) as Body;
    const type = item.Type;
    const uri = item.URI;
    if (typeof type !== 'string' || typeof uri !== 'string') throw badParameter(`SourceAccessConfigurations[${i}] needs Type and URI`);
    const secret = secretNameOf(uri);
    if (secret === undefined) throw badParameter(`SourceAccessConfigurations[${i}].URI ${uri}: name a Secret of the mapping's namespace as k8s-secret:NAME (or a Secrets Manager ARN ending in secret:NAME)`);
    const mechanism = SASL_TYPES[type];
    if (mechanism !== undefined) {
      if (out.sasl !== undefined) throw badParameter('SourceAccessConfigurations: one authentication (BASIC_AUTH, SASL_SCRAM_256_AUTH or SASL_SCRAM_512_AUTH) at the most');
      out.sasl = { mechanism, username: { name: secret, key: SECRET_KEYS.username }, password: { name: secret, key: SECRET_KEYS.password } };
    } else if (type === 'SERVER_ROOT_CA_CERTIFICATE') {
      out.tls = { enabled: true, ca: { name: secret, key: SECRET_KEYS.ca } };
    } else {
      throw badParameter(`SourceAccessConfigurations[${i}].Type ${type} is not supported by Hearth: it takes BASIC_AUTH, SASL_SCRAM_256_AUTH, SASL_SCRAM_512_AUTH and SERVER_ROOT_CA_CERTIFICATE`);
    }
  }
  return out;
}

/** The fields both requests set, as spec fields (only those given). */
function commonFields(b: Body): Partial<EventSourceMappingSpecInput> {
  const spec: Partial<EventSourceMappingSpecInput> = {};
  const enabled = optionalBoolean(b, 'Enabled');
  if (enabled !== undefined) spec.enabled = enabled;
  // The schema's bounds judge the numbers (its problems name the spec's fields); these only check types.
  const batchSize = optionalInteger(b, 'BatchSize', 1, Number.MAX_SAFE_INTEGER);
  if (batchSize !== undefined) spec.batchSize = batchSize;
  const window = optionalInteger(b, 'MaximumBatchingWindowInSeconds', 0, Number.MAX_SAFE_INTEGER);
  if (window !== undefined) spec.maximumBatchingWindowInSeconds = window;
  const filter = optionalObject(b, 'FilterCriteria');
  if (filter !== undefined) {
    const filters = filter.Filters ?? [];
    if (!Array.isArray(filters)) throw badParameter('FilterCriteria.Filters must be a list of {Pattern}');
    spec.filterCriteria = {
      filters: filters.map((f, i) => {
        const pattern = (f as Body | null)?.Pattern;
        if (typeof pattern !== 'string') throw badParameter(`FilterCriteria.Filters[${i}].Pattern must be a string`);
        return { pattern };
      }),
    };
  }
  const types = optionalStringList(b, 'FunctionResponseTypes');
  if (types !== undefined) {
    for (const t of types) if (t !== 'ReportBatchItemFailures') throw badParameter(`FunctionResponseTypes: ${t} is not one of ReportBatchItemFailures`);
    spec.functionResponseTypes = types as Array<'ReportBatchItemFailures'>;
  }
  const bisect = optionalBoolean(b, 'BisectBatchOnFunctionError');
  if (bisect !== undefined) spec.bisectBatchOnFunctionError = bisect;
  const retries = optionalInteger(b, 'MaximumRetryAttempts', -1, Number.MAX_SAFE_INTEGER);
  if (retries !== undefined) spec.maximumRetryAttempts = retries;
  const age = optionalInteger(b, 'MaximumRecordAgeInSeconds', -1, Number.MAX_SAFE_INTEGER);
  if (age !== undefined) spec.maximumRecordAgeInSeconds = age;
  const dest = optionalObject(b, 'DestinationConfig');
  if (dest !== undefined) {
    refuseOthers(dest, ['OnFailure'], 'DestinationConfig (OnSuccess has no meaning for stream sources)');
    const onFailure = optionalObject(dest, 'OnFailure');
    const destination = onFailure === undefined ? undefined : optionalString(onFailure, 'Destination', 1024);
    spec.destinationConfig = destination !== undefined && destination !== '' ? { onFailure: { destination } } : {};
  }
  const scaling = optionalObject(b, 'ScalingConfig');
  if (scaling !== undefined) {
    const max = optionalInteger(scaling, 'MaximumConcurrency', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (max !== undefined) spec.scalingConfig = { maximumConcurrency: max };
  }
  return spec;
}

/** CreateEventSourceMapping's body as a spec for the function (and qualifier) its FunctionName named. */
export function createMappingSpec(b: Body, target: { name: string; qualifier?: string }): EventSourceMappingSpecInput {
  refuseOthers(b, [...COMMON, ...CREATE_ONLY], 'CreateEventSourceMapping');
  const arn = optionalString(b, 'EventSourceArn', 1024);
  if (arn !== undefined && arn !== '') {
    throw badParameter(
      `EventSourceArn ${arn}: Hearth reads self-managed Kafka through this API (SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS and Topics); Redis Streams mappings are EventSourceMapping objects (a file of the functions directory, or kubectl apply)`,
    );
  }
  const source = optionalObject(b, 'SelfManagedEventSource');
  const endpoints = source === undefined ? undefined : optionalObject(source, 'Endpoints');
  if (endpoints === undefined) throw badParameter('SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS is required: the Kafka brokers, HOST:PORT');
  refuseOthers(endpoints, ['KAFKA_BOOTSTRAP_SERVERS'], 'SelfManagedEventSource.Endpoints');
  const servers = optionalStringList(endpoints, 'KAFKA_BOOTSTRAP_SERVERS') ?? [];
  const topics = optionalStringList(b, 'Topics') ?? [];
  const group = optionalObject(b, 'SelfManagedKafkaEventSourceConfig');
  const consumerGroupId = group === undefined ? undefined : optionalString(group, 'ConsumerGroupId', 200);
  const kafka: KafkaSource = { bootstrapServers: servers, topics, ...(consumerGroupId !== undefined ? { consumerGroupId } : {}), ...accessOf(b.SourceAccessConfigurations) } as KafkaSource;
  const start = optionalString(b, 'StartingPosition', 32);
  const ts = b.StartingPositionTimestamp;
  if (ts !== undefined && ts !== null && (typeof ts !== 'number' || !Number.isFinite(ts))) throw badParameter('StartingPositionTimestamp must be a time (epoch seconds)');
  return {
    functionName: target.name,
    ...(target.qualifier !== undefined ? { qualifier: target.qualifier } : {}),
    kafka,
    ...commonFields(b),
    // Lambda requires StartingPosition for Kafka; Hearth's default is LATEST, as the schema's.
    ...(start !== undefined ? { startingPosition: start as EventSourceMappingSpecInput['startingPosition'] } : {}),
    ...(typeof ts === 'number' ? { startingPositionTimestamp: new Date(ts * 1000).toISOString() } : {}),
  };
}

/** UpdateEventSourceMapping's body as an edit of the stored spec: the members given replace theirs; the source stays. */
export function updateMappingEdit(b: Body, target: { name: string; qualifier?: string } | undefined): (spec: EventSourceMappingSpecInput) => EventSourceMappingSpecInput {
  refuseOthers(b, [...COMMON, 'UUID'], 'UpdateEventSourceMapping (a mapping\'s source and starting position are fixed; delete it and create another)');
  const fields = commonFields(b);
  const access = b.SourceAccessConfigurations === undefined || b.SourceAccessConfigurations === null ? undefined : accessOf(b.SourceAccessConfigurations);
  return (spec) => {
    const next: EventSourceMappingSpecInput = { ...spec, ...fields };
    if (target !== undefined) {
      next.functionName = target.name;
      if (target.qualifier !== undefined) next.qualifier = target.qualifier;
      else delete next.qualifier;
    }
    // An empty DestinationConfig.OnFailure removes the destination, as in Lambda.
    if (fields.destinationConfig !== undefined && fields.destinationConfig.onFailure === undefined) delete next.destinationConfig;
    if (access !== undefined) {
      if (next.kafka === undefined) throw badParameter('SourceAccessConfigurations: this mapping reads Redis Streams; its settings are in its object');
      const { sasl: _s, tls: _t, ...kafka } = next.kafka;
      next.kafka = { ...kafka, ...access } as KafkaSource;
    }
    return next;
  };
}

/**
 * The object name of a mapping made through the API: the function and the
 * topic, readable, and a digest of the function, brokers and topic, so the
 * same function and source always get the same name (a second create is a
 * conflict) and names stay DNS labels of 63 characters at most.
 */
export function mappingObjectName(spec: Pick<EventSourceMappingSpecInput, 'functionName' | 'kafka'>): string {
  const topic = spec.kafka?.topics[0] ?? '';
  const servers = [...(spec.kafka?.bootstrapServers ?? [])].sort().join(',');
  const digest = createHash('sha256').update(`${spec.functionName}\n${servers}\n${topic}`).digest('hex').slice(0, 8);
  const slug = topic.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 20);
  const base = `${spec.functionName.slice(0, 32)}${slug !== '' ? `-${slug}` : ''}`.replace(/-+$/g, '');
  return `${base}-${digest}`;
}

/** Whether two mappings read the same source for the same function (Lambda's ResourceConflictException). */
export function sameSourceAndFunction(a: Pick<EventSourceMappingSpecInput, 'functionName' | 'kafka' | 'redisStreams'>, b: Pick<EventSourceMappingSpecInput, 'functionName' | 'kafka' | 'redisStreams'>): boolean {
  if (a.functionName !== b.functionName) return false;
  if (a.kafka !== undefined && b.kafka !== undefined) {
    const servers = (k: KafkaSource) => [...k.bootstrapServers].sort().join(',');
    return servers(a.kafka as KafkaSource) === servers(b.kafka as KafkaSource) && a.kafka.topics.some((t) => b.kafka?.topics.includes(t));
  }
  if (a.redisStreams !== undefined && b.redisStreams !== undefined) return (a.redisStreams.url ?? '') === (b.redisStreams.url ?? '') && a.redisStreams.streams.some((s) => b.redisStreams?.streams.includes(s));
  return false;
}
