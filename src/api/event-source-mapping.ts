// An event-source mapping, as Lambda's CreateEventSourceMapping describes
// one: a poller reads batches of records from a stream (a Kafka topic, or
// Redis Streams) and invokes a function with each batch, synchronously,
// keeping order per partition and committing a partition's position only
// after its batch succeeded or was sent to the on-failure destination. The
// same schema serves the CRD (`kubectl apply`), the files beside Functions
// in the embedded default, and the control-plane API. Gateways run the
// pollers; a partition is polled by one gateway at a time (the broker's
// consumer group, or a lease for Redis Streams), so pollers rebalance when
// one leaves.
import { z } from 'zod';
import { API_VERSION, ConditionSchema, MetadataSchema } from './function.js';

export const MAPPING_KIND = 'EventSourceMapping';
export const MAPPING_PLURAL = 'eventsourcemappings';

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** A qualifier: $LATEST, a version number or an alias name. */
const QUALIFIER = /^(\$LATEST|[0-9]+|[a-zA-Z0-9_-]{1,128})$/;

export const STARTING_POSITIONS = ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'] as const;
export type StartingPosition = (typeof STARTING_POSITIONS)[number];

const SecretKeySchema = z.strictObject({
  name: z.string().min(1).max(253).describe('Secret in the mapping\'s namespace (in the embedded default: a Secret in the functions directory).'),
  key: z.string().min(1).max(253).describe('Key of the value in the Secret.'),
});

export const KafkaSourceSchema = z
  .strictObject({
    bootstrapServers: z.array(z.string().min(1).regex(/^[^\s:]+:\d{1,5}$/, 'must be HOST:PORT')).min(1).max(10).describe('Brokers to connect to first, HOST:PORT.'),
    topics: z.array(z.string().min(1).max(249).regex(/^[a-zA-Z0-9._-]+$/, 'may hold only letters, digits, ., _ and -')).min(1).max(1).describe('The topic to read (Lambda allows one per mapping).'),
    consumerGroupId: z.string().min(1).max(200).optional().describe('Consumer group the gateways join; default: hearth-NAMESPACE-NAME of the mapping.'),
    sasl: z
      .strictObject({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism.'),
        username: SecretKeySchema.describe('Where the user name is.'),
        password: SecretKeySchema.describe('Where the password is.'),
      })
      .optional()
      .describe('SASL authentication, its credentials from Secrets.'),
    tls: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Connect over TLS.'),
        ca: SecretKeySchema.optional().describe('PEM of the CA that signed the brokers\' certificates; default: the system\'s.'),
      })
      .optional()
      .describe('TLS to the brokers.'),
  })
  .describe('A self-managed Kafka topic.');
export type KafkaSource = z.infer<typeof KafkaSourceSchema>;

export const RedisStreamsSourceSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional().describe('The Redis to read; default: the platform\'s own.'),
    password: SecretKeySchema.optional().describe('Where the password is, when the URL has none.'),
    streams: z
      .array(z.string().min(1).max(512))
      .min(1)
      .max(100)
      .describe('Stream keys to read. Each stream is one partition: its entries are delivered in order, one batch in flight at a time.'),
    consumerGroup: z.string().min(1).max(200).optional().describe('Consumer group created on each stream; default: hearth-NAMESPACE-NAME of the mapping.'),
  })
  .describe('Redis Streams.');
export type RedisStreamsSource = z.infer<typeof RedisStreamsSourceSchema>;

export const FilterCriteriaSchema = z.strictObject({
  filters: z
    .array(z.strictObject({ pattern: z.string().min(1).max(4096).describe('A filter pattern in Lambda\'s syntax, as JSON text.') }))
    .max(5)
    .describe('A record is invoked when it matches any of the patterns; records that match none are committed without an invocation.'),
});
export type FilterCriteria = z.infer<typeof FilterCriteriaSchema>;

export const OnFailureSchema = z.strictObject({
  destination: z
    .string()
    .min(1)
    .max(1024)
    .describe(
      'Where a batch that could not be processed goes, as Lambda\'s failure record: a function (its name, NAME:QUALIFIER or its Lambda ARN; invoked asynchronously), ' +
        'a Kafka topic of the same cluster (kafka://TOPIC), a Redis stream (redis-stream://KEY, on the source\'s Redis or the platform\'s), or an http(s):// URL (POSTed).',
    ),
});

export const EventSourceMappingSpecSchema = z
  .strictObject({
    functionName: z.string().min(1).max(64).regex(DNS_LABEL, 'must be a Function\'s name').describe('The Function invoked with each batch.'),
    qualifier: z.string().regex(QUALIFIER, 'must be $LATEST, a version number or an alias name').optional().describe('Version or alias to invoke; default $LATEST.'),
    enabled: z.boolean().default(true).describe('false: the pollers stop and keep their position, to go on from it when enabled again.'),
    kafka: KafkaSourceSchema.optional(),
    redisStreams: RedisStreamsSourceSchema.optional(),
    batchSize: z.number().int().min(1).max(10_000).default(100).describe('Records per invocation at the most.'),
    maximumBatchingWindowInSeconds: z.number().int().min(0).max(300).default(0).describe('How long to gather records before invoking with fewer than batchSize.'),
    startingPosition: z.enum(STARTING_POSITIONS).default('LATEST').describe('Where a new consumer group starts reading: the oldest record, the next new one, or at startingPositionTimestamp.'),
    startingPositionTimestamp: z.string().datetime({ offset: true }).optional().describe('With AT_TIMESTAMP: the time to start reading from (RFC 3339).'),
    filterCriteria: FilterCriteriaSchema.optional(),
    functionResponseTypes: z
      .array(z.enum(['ReportBatchItemFailures']))
      .max(1)
      .optional()
      .describe('ReportBatchItemFailures: the function answers {"batchItemFailures":[{"itemIdentifier":OFFSET}]}; the batch is retried from the lowest failed record.'),
    bisectBatchOnFunctionError: z.boolean().default(false).describe('On a function error, split the batch in two and retry each half, to isolate a bad record.'),
    maximumRetryAttempts: z.number().int().min(-1).max(10_000).default(-1).describe('Retries of a failed batch before it goes to onFailure; -1: until the records expire.'),
    maximumRecordAgeInSeconds: z
      .number()
      .int()
      .min(-1)
      .max(604_800)
      .refine((n) => n === -1 || n >= 60, { message: 'must be -1 or at least 60' })
      .default(-1)
      .describe('Records older than this are not retried again but sent to onFailure; -1: no limit.'),
    destinationConfig: z.strictObject({ onFailure: OnFailureSchema.optional() }).optional(),
    scalingConfig: z
      .strictObject({ maximumConcurrency: z.number().int().min(2).max(1000).describe('Batches of this mapping in flight at once at the most, across its partitions and every gateway that polls them (counted in the platform\'s Redis).') })
      .optional(),
  })
  .refine((s) => (s.kafka === undefined) !== (s.redisStreams === undefined), { message: 'exactly one of kafka and redisStreams must be set', path: ['kafka'] })
  .refine((s) => (s.startingPosition === 'AT_TIMESTAMP') === (s.startingPositionTimestamp !== undefined), {
    message: 'startingPositionTimestamp is required with AT_TIMESTAMP, and only with it',
    path: ['startingPositionTimestamp'],
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.kafka) != has(self.redisStreams)', message: 'exactly one of kafka and redisStreams must be set', fieldPath: '.kafka' },
      {
        rule: "(self.startingPosition == 'AT_TIMESTAMP') == has(self.startingPositionTimestamp)",
        message: 'startingPositionTimestamp is required with AT_TIMESTAMP, and only with it',
        fieldPath: '.startingPositionTimestamp',
      },
    ],
  });
export type EventSourceMappingSpec = z.infer<typeof EventSourceMappingSpecSchema>;
export type EventSourceMappingSpecInput = z.input<typeof EventSourceMappingSpecSchema>;

/** Lambda's mapping states. */
export const MAPPING_STATES = ['Creating', 'Enabling', 'Enabled', 'Disabling', 'Disabled', 'Updating', 'Deleting'] as const;
export type MappingState = (typeof MAPPING_STATES)[number];

export const EventSourceMappingStatusSchema = z.strictObject({
  conditions: z.array(ConditionSchema).optional().meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  observedGeneration: z.number().int().min(0).optional(),
  uuid: z.string().optional().describe('The mapping\'s identifier in Lambda\'s API (UUID).'),
  state: z.enum(MAPPING_STATES).optional().describe('Lambda\'s state of the mapping.'),
  lastProcessingResult: z.string().optional().describe('OK, No records processed, or PROBLEM: what went wrong last.'),
  lastModified: z.string().optional().describe('When the spec last changed (RFC 3339).'),
  lag: z
    .array(z.strictObject({ partition: z.string().describe('TOPIC-N for Kafka, the stream key for Redis Streams.'), lag: z.number().int().min(0).describe('Records not yet committed.') }))
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['partition'] })
    .describe('Records behind, per partition.'),
  totalLag: z.number().int().min(0).optional().describe('Records behind, all partitions.'),
});
export type EventSourceMappingStatus = z.infer<typeof EventSourceMappingStatusSchema>;

export const EventSourceMappingSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(MAPPING_KIND),
  metadata: MetadataSchema,
  spec: EventSourceMappingSpecSchema,
  status: EventSourceMappingStatusSchema.optional(),
});
export type EventSourceMapping = z.infer<typeof EventSourceMappingSchema>;
export type EventSourceMappingInput = z.input<typeof EventSourceMappingSchema>;

/** The consumer group a mapping's pollers join unless the spec names one. */
export function defaultConsumerGroup(m: Pick<EventSourceMapping, 'metadata'>): string {
  return `hearth-${m.metadata.namespace ?? 'default'}-${m.metadata.name}`;
}
