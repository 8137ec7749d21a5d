// Lambda's CreateEventSourceMapping / UpdateEventSourceMapping bodies as an
// EventSourceMapping's spec: each member mapped, Secrets named by
// k8s-secret:NAME (or a Secrets Manager ARN's secret name), and what the
// spec has no place for refused with a 400 naming it. Pure, table-driven.
import { describe, expect, it } from 'vitest';
import { EventSourceMappingSpecSchema } from '../../src/api/event-source-mapping.js';
import { createMappingSpec, mappingObjectName, sameSourceAndFunction, secretNameOf, updateMappingEdit } from '../../src/control/event-source-mapping-request.js';
import { LambdaError } from '../../src/gateway/lambda-errors.js';

const SOURCE = { SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ['b1:9092', 'b2:9092'] } }, Topics: ['orders'] };
const F = { name: 'worker' };

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (err) {
    expect(err).toBeInstanceOf(LambdaError);
    expect((err as LambdaError).status).toBe(400);
    expect((err as LambdaError).type).toBe('InvalidParameterValueException');
    return (err as Error).message;
  }
  throw new Error('expected a 400');
}

describe('CreateEventSourceMapping as a spec', () => {
  it('maps every member Lambda documents for self-managed Kafka', () => {
    const spec = createMappingSpec(
      {
        FunctionName: 'worker:live',
        ...SOURCE,
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'g1' },
        SourceAccessConfigurations: [
          { Type: 'SASL_SCRAM_512_AUTH', URI: 'k8s-secret:kafka-user' },
          { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:kafka-ca' },
        ],
        Enabled: false,
        BatchSize: 20,
        MaximumBatchingWindowInSeconds: 2,
        StartingPosition: 'AT_TIMESTAMP',
        StartingPositionTimestamp: 1_700_000_000,
        FilterCriteria: { Filters: [{ Pattern: '{"value":{"a":[1]}}' }] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 3,
        MaximumRecordAgeInSeconds: 120,
        DestinationConfig: { OnFailure: { Destination: 'kafka://dlq' } },
        ScalingConfig: { MaximumConcurrency: 4 },
      },
      { name: 'worker', qualifier: 'live' },
    );
    expect(spec).toEqual({
      functionName: 'worker',
      qualifier: 'live',
      kafka: {
        bootstrapServers: ['b1:9092', 'b2:9092'],
        topics: ['orders'],
        consumerGroupId: 'g1',
        sasl: { mechanism: 'scram-sha-512', username: { name: 'kafka-user', key: 'username' }, password: { name: 'kafka-user', key: 'password' } },
        tls: { enabled: true, ca: { name: 'kafka-ca', key: 'ca.crt' } },
      },
      enabled: false,
      batchSize: 20,
      maximumBatchingWindowInSeconds: 2,
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: '2023-11-14T22:13:20.000Z',
      filterCriteria: { filters: [{ pattern: '{"value":{"a":[1]}}' }] },
      functionResponseTypes: ['ReportBatchItemFailures'],
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 3,
      maximumRecordAgeInSeconds: 120,
      destinationConfig: { onFailure: { destination: 'kafka://dlq' } },
      scalingConfig: { maximumConcurrency: 4 },
    });
    expect(EventSourceMappingSpecSchema.safeParse(spec).success).toBe(true);
  });

  it.each([
    ['BASIC_AUTH', 'plain'],
    ['SASL_SCRAM_256_AUTH', 'scram-sha-256'],
    ['SASL_SCRAM_512_AUTH', 'scram-sha-512'],
  ])('%s is SASL %s', (type, mechanism) => {
    expect(createMappingSpec({ ...SOURCE, SourceAccessConfigurations: [{ Type: type, URI: 'k8s-secret:s' }] }, F).kafka?.sasl?.mechanism).toBe(mechanism);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an AWS event source', { EventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:q' }, /EventSourceArn .*self-managed Kafka.*Redis Streams mappings are EventSourceMapping objects/],
    ['no brokers', { Topics: ['t'] }, /KAFKA_BOOTSTRAP_SERVERS is required/],
    ['a member the spec has no place for', { ...SOURCE, ParallelizationFactor: 2 }, /ParallelizationFactor is not supported/],
    ['tumbling windows', { ...SOURCE, TumblingWindowInSeconds: 60 }, /TumblingWindowInSeconds is not supported/],
    ['an endpoint other than Kafka\'s', { SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ['b:1'], OTHER: ['x'] } }, Topics: ['t'] }, /OTHER is not supported/],
    ['mutual TLS', { ...SOURCE, SourceAccessConfigurations: [{ Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: 'k8s-secret:c' }] }, /CLIENT_CERTIFICATE_TLS_AUTH is not supported/],
    ['a VPC', { ...SOURCE, SourceAccessConfigurations: [{ Type: 'VPC_SUBNET', URI: 'subnet:1' }] }, /URI subnet:1: name a Secret/],
    ['two authentications', { ...SOURCE, SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: 'k8s-secret:a' }, { Type: 'SASL_SCRAM_256_AUTH', URI: 'k8s-secret:b' }] }, /one authentication/],
    ['an OnSuccess destination', { ...SOURCE, DestinationConfig: { OnSuccess: { Destination: 'x' } } }, /OnSuccess is not supported/],
    ['a response type Lambda does not have', { ...SOURCE, FunctionResponseTypes: ['Other'] }, /Other is not one of ReportBatchItemFailures/],
    ['a string for a number', { ...SOURCE, BatchSize: '10' }, /BatchSize must be an integer/],
    ['a timestamp that is not a time', { ...SOURCE, StartingPositionTimestamp: 'yesterday' }, /StartingPositionTimestamp must be a time/],
  ])('refuses %s', (_what, body, message) => {
    expect(refusal(() => createMappingSpec(body, F))).toMatch(message);
  });

  it('leaves bounds to the schema, whose problems name the spec\'s fields', () => {
    const parsed = EventSourceMappingSpecSchema.safeParse(createMappingSpec({ ...SOURCE, Topics: ['a', 'b'], MaximumRecordAgeInSeconds: 30 }, F));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['kafka.topics', 'maximumRecordAgeInSeconds']);
  });
});

describe('UpdateEventSourceMapping as an edit', () => {
  const stored = createMappingSpec({ ...SOURCE, BatchSize: 10, DestinationConfig: { OnFailure: { Destination: 'kafka://dlq' } }, SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: 'k8s-secret:a' }] }, F);

  it('replaces the members given and keeps the rest, the source included', () => {
    expect(updateMappingEdit({ UUID: 'u', Enabled: false, BatchSize: 5 }, undefined)(stored)).toEqual({ ...stored, enabled: false, batchSize: 5 });
  });

  it('moves the mapping to another function or qualifier when FunctionName is given', () => {
    expect(updateMappingEdit({ FunctionName: 'other:2' }, { name: 'other', qualifier: '2' })(stored)).toMatchObject({ functionName: 'other', qualifier: '2' });
    expect(updateMappingEdit({ FunctionName: 'other' }, { name: 'other' })({ ...stored, qualifier: '2' })).not.toHaveProperty('qualifier');
  });

  it('an empty OnFailure removes the destination; new SourceAccessConfigurations replace the old', () => {
    expect(updateMappingEdit({ DestinationConfig: { OnFailure: {} } }, undefined)(stored)).not.toHaveProperty('destinationConfig');
    const next = updateMappingEdit({ SourceAccessConfigurations: [{ Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: 'k8s-secret:ca' }] }, undefined)(stored);
    expect(next.kafka).toEqual({ bootstrapServers: ['b1:9092', 'b2:9092'], topics: ['orders'], tls: { enabled: true, ca: { name: 'ca', key: 'ca.crt' } } });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['the topics', { Topics: ['x'] }, /Topics is not supported.*source and starting position are fixed/],
    ['the starting position', { StartingPosition: 'LATEST' }, /StartingPosition is not supported/],
  ])('refuses changing %s', (_what, body, message) => {
    expect(refusal(() => updateMappingEdit(body, undefined))).toMatch(message);
  });
});

describe('names and sources', () => {
  it('names a mapping from its function and topic with a digest of the source: stable, distinct, a DNS label', () => {
    const a = mappingObjectName({ functionName: 'worker', kafka: { bootstrapServers: ['b2:9092', 'b1:9092'], topics: ['Orders.EU'] } });
    expect(a).toMatch(/^worker-orders-eu-[0-9a-f]{8}$/);
    expect(mappingObjectName({ functionName: 'worker', kafka: { bootstrapServers: ['b1:9092', 'b2:9092'], topics: ['Orders.EU'] } })).toBe(a);
    expect(mappingObjectName({ functionName: 'worker', kafka: { bootstrapServers: ['b3:9092'], topics: ['Orders.EU'] } })).not.toBe(a);
    const long = mappingObjectName({ functionName: 'f'.repeat(64), kafka: { bootstrapServers: ['b:1'], topics: ['t'.repeat(249)] } });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
  });

  it('one function, one source: the same brokers (any order) and topic conflict, another topic or function does not', () => {
    const k = (fn: string, servers: string[], topic: string) => ({ functionName: fn, kafka: { bootstrapServers: servers, topics: [topic] } });
    expect(sameSourceAndFunction(k('f', ['a:1', 'b:1'], 't'), k('f', ['b:1', 'a:1'], 't'))).toBe(true);
    expect(sameSourceAndFunction(k('f', ['a:1'], 't'), k('f', ['a:1'], 'u'))).toBe(false);
    expect(sameSourceAndFunction(k('f', ['a:1'], 't'), k('g', ['a:1'], 't'))).toBe(false);
    expect(sameSourceAndFunction({ functionName: 'f', redisStreams: { streams: ['s'] } }, { functionName: 'f', redisStreams: { streams: ['s', 'x'] } })).toBe(true);
  });

  it.each([
    ['k8s-secret:kafka-user', 'kafka-user'],
    ['arn:aws:secretsmanager:us-east-1:000000000000:secret:kafka-user', 'kafka-user'],
    ['kafka-user', undefined],
    ['k8s-secret:Bad_Name', undefined],
  ])('secret %s → %s', (uri, name) => {
    expect(secretNameOf(uri)).toBe(name);
  });
});
