// Lambda's GetEventSourceMapping (and ListEventSourceMappings' items) over the
// mappings this gateway runs (in the embedded default: the
// EventSourceMapping files of the functions directory), with their status.
// Read-only for now: mappings are created, changed and deleted in their files
// (or with kubectl); CreateEventSourceMapping and the rest come with the
// control-plane API's mapping routes.
import type { FastifyPluginAsync } from 'fastify';
import type { EventSourceMapping } from '../../api/event-source-mapping.js';
import type { MappingStatusView } from '../../sources/mapping-runner.js';
import { LambdaError } from '../lambda-errors.js';
import { sendLambdaError, toLambdaError } from '../reply-error.js';

export interface EventSourceMappingsOptions {
  list(): Array<{ mapping: EventSourceMapping; status: MappingStatusView }>;
  arn(functionName: string, qualifier?: string): string;
}

/** Lambda's EventSourceMappingConfiguration of a mapping, with Hearth's Redis Streams source and lag beside Lambda's fields. Pure. */
export function mappingConfiguration(m: EventSourceMapping, status: MappingStatusView, functionArn: string): Record<string, unknown> {
  const s = m.spec;
  const arnBase = functionArn.replace(/:function:.*$/, '');
  return {
    UUID: status.uuid,
    EventSourceMappingArn: `${arnBase}:event-source-mapping:${status.uuid}`,
    FunctionArn: functionArn,
    State: status.state,
    StateTransitionReason: 'USER_INITIATED',
    LastProcessingResult: status.lastProcessingResult,
    // Lambda's JSON carries it as epoch seconds.
    LastModified: Date.parse(status.lastModified) / 1000,
    BatchSize: s.batchSize,
    MaximumBatchingWindowInSeconds: s.maximumBatchingWindowInSeconds,
    StartingPosition: s.startingPosition,
    ...(s.startingPositionTimestamp !== undefined ? { StartingPositionTimestamp: Date.parse(s.startingPositionTimestamp) / 1000 } : {}),
    ...(s.filterCriteria ? { FilterCriteria: { Filters: s.filterCriteria.filters.map((f) => ({ Pattern: f.pattern })) } } : {}),
    FunctionResponseTypes: s.functionResponseTypes ?? [],
    BisectBatchOnFunctionError: s.bisectBatchOnFunctionError,
    MaximumRetryAttempts: s.maximumRetryAttempts,
    MaximumRecordAgeInSeconds: s.maximumRecordAgeInSeconds,
    DestinationConfig: { OnFailure: s.destinationConfig?.onFailure ? { Destination: s.destinationConfig.onFailure.destination } : {} },
    ...(s.scalingConfig ? { ScalingConfig: { MaximumConcurrency: s.scalingConfig.maximumConcurrency } } : {}),
    ...(s.kafka
      ? {
          Topics: s.kafka.topics,
          SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: s.kafka.bootstrapServers } },
          ...(s.kafka.consumerGroupId !== undefined ? { SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: s.kafka.consumerGroupId } } : {}),
        }
      : {}),
    ...(s.redisStreams
      ? {
          RedisStreamsSource: {
            Streams: s.redisStreams.streams,
            ...(s.redisStreams.url !== undefined ? { Url: s.redisStreams.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@') } : {}),
            ...(s.redisStreams.consumerGroup !== undefined ? { ConsumerGroup: s.redisStreams.consumerGroup } : {}),
          },
        }
      : {}),
    // Hearth's: records behind per partition.
    Lag: status.lag.map((p) => ({ Partition: p.partition, Lag: p.lag })),
    TotalLag: status.totalLag,
  };
}

type GetRoute = { Params: { uuid: string } };

/** Every mapping's configuration (of one function, when named), in UUID order: what ListEventSourceMappings pages through. */
export function mappingConfigurations(opts: EventSourceMappingsOptions, functionName?: string): Array<Record<string, unknown>> {
  return opts
    .list()
    .filter(({ mapping }) => functionName === undefined || mapping.spec.functionName === functionName)
    .map(({ mapping, status }) => mappingConfiguration(mapping, status, opts.arn(mapping.spec.functionName, mapping.spec.qualifier)))
    .sort((a, b) => String(a.UUID).localeCompare(String(b.UUID)));
}

// ListEventSourceMappings is the functions API's route (it validates FunctionName as every control route does), fed by mappingConfigurations.
const eventSourceMappings: FastifyPluginAsync<EventSourceMappingsOptions> = async (app, opts) => {
  app.get<GetRoute>(
    '/2015-03-31/event-source-mappings/:uuid',
    { config: { lambdaAction: 'lambda:GetEventSourceMapping' }, schema: { summary: 'An event-source mapping with its status (Lambda GetEventSourceMapping)', tags: ['event-sources'] } },
    async (req, reply) => {
      try {
        const found = mappingConfigurations(opts).find((c) => c.UUID === req.params.uuid);
        if (!found) throw new LambdaError(404, 'ResourceNotFoundException', `The resource you requested does not exist. (Service: Lambda; Status Code: 404; Error Code: ResourceNotFoundException; event source mapping ${req.params.uuid})`);
        return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(found));
      } catch (err) {
        return sendLambdaError(reply, toLambdaError(err));
      }
    },
  );
};

export default eventSourceMappings;
