// Lambda's event-source mapping operations over the mappings this gateway
// runs (in the embedded default: the EventSourceMapping files of the
// functions directory; in a cluster: the custom resources), with their
// status. With a FunctionStore, CreateEventSourceMapping,
// UpdateEventSourceMapping and DeleteEventSourceMapping write the mapping
// through it (a file of the functions directory, or the Kubernetes object),
// so kubectl, files and the API are one truth; the runner then picks the
// change up as it does any edit. GetEventSourceMapping reads the store
// (what is written) and the runner (how it runs): a mapping written but not
// running yet is Creating, one running an older spec Updating.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { EventSourceMapping } from '../../api/event-source-mapping.js';
import { LATEST, VERSION_NUMBER } from '../../api/function.js';
import { createMappingSpec, mappingObjectName, sameSourceAndFunction, updateMappingEdit } from '../../control/event-source-mapping-request.js';
import type { MappingState } from '../../api/event-source-mapping.js';
import { mappingUuid, type MappingStatusView } from '../../sources/mapping-runner.js';
import { canonical } from '../../versions/snapshot.js';
import type { FunctionStore, StoredMapping } from '../../store/function-store.js';
import { arnHome, invalidBody, json, namedFunction, viaStore, type NamedFunction } from '../control-requests.js';
import { badParameter, LambdaError } from '../lambda-errors.js';
import { sendLambdaError, toLambdaError } from '../reply-error.js';
import { jsonObjectBody } from '../version-shapes.js';

export interface EventSourceMappingsOptions {
  list(): Array<{ mapping: EventSourceMapping; status: MappingStatusView }>;
  arn(functionName: string, qualifier?: string): string;
  /** Where mappings are written; without it the mapping routes are read-only (GetEventSourceMapping from the runner alone). */
  store?: FunctionStore;
  now?: () => Date;
}

/** The Secrets a Kafka source reads, as Lambda's SourceAccessConfigurations (URI k8s-secret:NAME, as CreateEventSourceMapping takes them). */
function sourceAccess(k: NonNullable<EventSourceMapping['spec']['kafka']>): Array<{ Type: string; URI: string }> {
  const types = { plain: 'BASIC_AUTH', 'scram-sha-256': 'SASL_SCRAM_256_AUTH', 'scram-sha-512': 'SASL_SCRAM_512_AUTH' } as const;
  return [
    ...(k.sasl ? [{ Type: types[k.sasl.mechanism], URI: `k8s-secret:${k.sasl.username.name}` }] : []),
    ...(k.tls?.ca ? [{ Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: `k8s-secret:${k.tls.ca.name}` }] : []),
  ];
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
          ...(sourceAccess(s.kafka).length > 0 ? { SourceAccessConfigurations: sourceAccess(s.kafka) } : {}),
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

type UuidRoute = { Params: { uuid: string } };

/** Every mapping's configuration (of one function, when named), in UUID order: what ListEventSourceMappings pages through. */
export function mappingConfigurations(opts: EventSourceMappingsOptions, functionName?: string): Array<Record<string, unknown>> {
  return opts
    .list()
    .filter(({ mapping }) => functionName === undefined || mapping.spec.functionName === functionName)
    .map(({ mapping, status }) => mappingConfiguration(mapping, status, opts.arn(mapping.spec.functionName, mapping.spec.qualifier)))
    .sort(byUuid);
}

/** The view of a stored mapping: the runner's status when it runs this very spec, else `state` (Creating, Updating, Deleting) with nothing processed yet. */
function storedView(opts: EventSourceMappingsOptions, s: StoredMapping, state?: MappingState): MappingStatusView {
  const uuid = mappingUuid(s.mapping);
  const running = opts.list().find((r) => r.status.uuid === uuid);
  // Key order aside: the runner's copy and the store's may come from different reads.
  const same = running !== undefined && canonical(running.mapping.spec) === canonical(s.mapping.spec);
  if (running !== undefined && same && state === undefined) return running.status;
  return {
    uuid,
    state: state ?? (running === undefined ? 'Creating' : 'Updating'),
    lastProcessingResult: running?.status.lastProcessingResult ?? 'No records processed',
    lastModified: s.lastModified ?? (opts.now ?? (() => new Date()))().toISOString(),
    lag: running?.status.lag ?? [],
    totalLag: running?.status.totalLag ?? 0,
  };
}

function storedConfiguration(opts: EventSourceMappingsOptions, s: StoredMapping, state?: MappingState): Record<string, unknown> {
  return mappingConfiguration(s.mapping, storedView(opts, s, state), opts.arn(s.mapping.spec.functionName, s.mapping.spec.qualifier));
}

const byUuid = (a: Record<string, unknown>, b: Record<string, unknown>): number => String(a.UUID).localeCompare(String(b.UUID));

/**
 * What ListEventSourceMappings pages through, of one function or all, in UUID order: with a store, the mappings written there (so a
 * mapping just created or deleted through the API or kubectl is listed, or not, at once), each with the runner's status; else what
 * the runner runs.
 */
export async function listedConfigurations(opts: EventSourceMappingsOptions, functionName?: string): Promise<Array<Record<string, unknown>>> {
  if (opts.store === undefined) return mappingConfigurations(opts, functionName);
  const stored = await viaStore(opts.store.listMappings());
  return stored
    .filter((s) => functionName === undefined || s.mapping.spec.functionName === functionName)
    .map((s) => storedConfiguration(opts, s))
    .sort(byUuid);
}

// ListEventSourceMappings is the functions API's route (it validates FunctionName as every control route does), fed by mappingConfigurations.
const MAPPINGS = '/2015-03-31/event-source-mappings';

const notFound = (uuid: string) =>
  new LambdaError(404, 'ResourceNotFoundException', `The resource you requested does not exist. (Service: Lambda; Status Code: 404; Error Code: ResourceNotFoundException; event source mapping ${uuid})`);

const eventSourceMappings: FastifyPluginAsync<EventSourceMappingsOptions> = async (app, opts) => {
  const { store } = opts;
  const home = arnHome(opts.arn('_'));

  const configOf = (s: StoredMapping, state?: MappingState): Record<string, unknown> => storedConfiguration(opts, s, state);
  const storedByUuid = async (uuid: string, s: FunctionStore): Promise<StoredMapping> => {
    const found = (await viaStore(s.listMappings())).find((m) => mappingUuid(m.mapping) === uuid);
    if (found === undefined) throw notFound(uuid);
    return found;
  };
  /** The function a request names, which must exist, with its qualifier (a version or alias that exists). */
  const target = async (raw: unknown, s: FunctionStore, req: FastifyRequest): Promise<NamedFunction> => {
    if (typeof raw !== 'string' || raw === '') throw badParameter('FunctionName is required');
    const f = namedFunction(raw, home, (n) => opts.arn(n), req.hearthCaller, 'allow');
    const current = await viaStore(s.getFunction(f.name), `Function not found: ${f.arn}`);
    const q = f.qualifier;
    if (q === undefined || q === LATEST) return f;
    const exists = VERSION_NUMBER.test(q) ? (await viaStore(s.listVersions(f.name))).some((v) => v.spec.version === q) : (current.fn.spec.aliases ?? []).some((a) => a.name === q);
    if (!exists) throw new LambdaError(404, 'ResourceNotFoundException', `Function not found: ${f.arn}:${q}`);
    return f;
  };
  const body = (req: FastifyRequest): Record<string, unknown> => jsonObjectBody(req.body, invalidBody);
  /** A store write; the schema's problems are named in the message alone (Lambda's InvalidParameterValueException has no other member). */
  const written = async <T>(work: Promise<T>, notFoundMessage?: string): Promise<T> => {
    try {
      return await viaStore(work, notFoundMessage);
    } catch (err) {
      if (err instanceof LambdaError && err.type === 'InvalidParameterValueException') throw badParameter(err.message);
      throw err;
    }
  };
  const answer = <T>(work: (req: FastifyRequest<T & UuidRoute>) => Promise<{ status: number; body: unknown }>) =>
    async (req: FastifyRequest<T & UuidRoute>, reply: Parameters<typeof json>[0]) => {
      try {
        const a = await work(req);
        return json(reply, a.status, a.body);
      } catch (err) {
        const e = toLambdaError(err);
        if (e.status >= 500) req.log.error({ err }, `${req.method} ${req.url} failed`);
        return sendLambdaError(reply, e);
      }
    };

  app.get<UuidRoute>(
    `${MAPPINGS}/:uuid`,
    { config: { lambdaAction: 'lambda:GetEventSourceMapping' }, schema: { summary: 'An event-source mapping with its status (Lambda GetEventSourceMapping)', tags: ['event-sources'] } },
    answer(async (req) => {
      const uuid = req.params.uuid;
      if (store !== undefined) return { status: 200, body: configOf(await storedByUuid(uuid, store)) };
      const found = mappingConfigurations(opts).find((c) => c.UUID === uuid);
      if (!found) throw notFound(uuid);
      return { status: 200, body: found };
    }),
  );

  if (store === undefined) return;

  for (const path of [MAPPINGS, `${MAPPINGS}/`]) {
    app.post(
      path,
      {
        config: { lambdaAction: 'lambda:CreateEventSourceMapping' },
        schema: { summary: 'Create a Kafka event-source mapping (Lambda CreateEventSourceMapping), written as an EventSourceMapping', tags: ['event-sources'], hide: path.endsWith('/') },
      },
      answer(async (req) => {
        const b = body(req);
        const f = await target(b.FunctionName, store, req);
        const spec = createMappingSpec(b, f);
        const existing = (await viaStore(store.listMappings())).find((m) => sameSourceAndFunction(m.mapping.spec, spec));
        if (existing !== undefined) {
          throw new LambdaError(
            409,
            'ResourceConflictException',
            `An event source mapping with the same source and function (${f.arn}) already exists. Please update or delete the existing mapping with UUID ${mappingUuid(existing.mapping)}`,
          );
        }
        const created = await written(store.createMapping(mappingObjectName(spec), spec));
        req.log.info({ mapping: created.mapping.metadata.name, uuid: mappingUuid(created.mapping) }, 'event-source mapping created through the API');
        return { status: 202, body: configOf(created, 'Creating') };
      }),
    );
  }

  app.put<UuidRoute>(
    `${MAPPINGS}/:uuid`,
    { config: { lambdaAction: 'lambda:UpdateEventSourceMapping' }, schema: { summary: 'Change an event-source mapping (Lambda UpdateEventSourceMapping)', tags: ['event-sources'] } },
    answer(async (req) => {
      const b = body(req);
      const current = await storedByUuid(req.params.uuid, store);
      const f = b.FunctionName === undefined || b.FunctionName === null ? undefined : await target(b.FunctionName, store, req);
      const edit = updateMappingEdit(b, f);
      const updated = await written(store.updateMapping(current.mapping.metadata.name, edit), `event source mapping ${req.params.uuid}`);
      return { status: 202, body: configOf(updated, 'Updating') };
    }),
  );

  app.delete<UuidRoute>(
    `${MAPPINGS}/:uuid`,
    { config: { lambdaAction: 'lambda:DeleteEventSourceMapping' }, schema: { summary: 'Delete an event-source mapping (Lambda DeleteEventSourceMapping)', tags: ['event-sources'] } },
    answer(async (req) => {
      const current = await storedByUuid(req.params.uuid, store);
      await viaStore(store.deleteMapping(current.mapping.metadata.name), `event source mapping ${req.params.uuid}`);
      return { status: 202, body: configOf(current, 'Deleting') };
    }),
  );
};

export default eventSourceMappings;
