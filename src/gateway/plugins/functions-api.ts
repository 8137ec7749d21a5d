// Lambda's control-plane routes for functions, over a FunctionStore (the
// functions directory under hearth up, the Kubernetes API in a cluster):
// CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
// UpdateFunctionCode, UpdateFunctionConfiguration, reserved and provisioned
// concurrency, asynchronous invocation settings, function URL settings, tags,
// account settings, code signing (none) and ListEventSourceMappings (the other mapping routes are event-source-mappings.ts).
// Versions, aliases and DeleteFunction are in versions-api.ts. The mapping
// between Lambda's JSON and Hearth's objects is src/control/'s; this file is
// the I/O around it. Each route declares the IAM action it is; each names
// its function as `:name` (tags as `:arn`), which authorisation reads.
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import { LATEST, VERSION_NUMBER, type Alias, type Code, type FunctionSpec, type FunctionSpecInput, type UrlInvokeMode } from '../../api/function.js';
import type { FunctionVersion } from '../../api/function-version.js';
import { accountSettings } from '../../control/account-settings.js';
import { checkArchitectures, optionalBoolean, optionalInteger, optionalStringMap, type Body } from '../../control/body-fields.js';
import { applyConfiguration, readConfiguration } from '../../control/configuration-update.js';
import { readCreateFunction } from '../../control/create-function.js';
import { applyEventInvokeConfig, eventInvokeConfig, hasEventInvokeConfig, readEventInvokeConfig, withoutEventInvokeConfig } from '../../control/event-invoke-config.js';
import { CODE_BODY_LIMIT, requestTooLarge, updateCode, type CodeRequest } from '../../control/function-code.js';
import { codeLocation, lambdaArchitecture, latestConfiguration, versionConfiguration, type ConfigurationContext } from '../../control/function-configuration.js';
import { checkUrlConfig, functionUrlConfig, urlInvokeMode, urlQualifier, withUrlInvokeMode, type UrlAuthType } from '../../control/function-url-config.js';
import { instancesFor, provisionedConfig, provisionedQualifier, type UnitReadiness } from '../../control/provisioned.js';
import { expectedRevision } from '../../control/revision.js';
import { checkTags, withoutTags, withTags } from '../../control/tags.js';
import { isPackageError } from '../../packages/errors.js';
import { StoreError, type FunctionStore, type StoredFunction } from '../../store/function-store.js';
import type { Uploads } from '../../uploads/uploads.js';
import type { LambdaAction } from '../auth/actions.js';
import { allowsFunction } from '../auth/function-patterns.js';
import { arnHome, invalidBody, json, listQuery, nameParam, namedFunction, pageAnswer, staleRevision, uploadedSize, viaStore, type ListQuery, type NamedFunction } from '../control-requests.js';
import { parseFunctionName, resolveQualifier } from '../invoke-request.js';
import { badParameter, LambdaError } from '../lambda-errors.js';
import { jsonObjectBody } from '../version-shapes.js';
import { requestAction } from './auth.js';

export interface FunctionsApiOptions {
  store: FunctionStore;
  catalog: FunctionCatalog;
  arn: (name: string) => string;
  /** Where ZipFiles go; without it CreateFunction and UpdateFunctionCode take ImageUri only (ZipFile: 400). */
  uploads?: Uploads;
  /** Ready instances of a serving unit (NAME or NAME:N): provisioned concurrency is READY once the alias's are. */
  readyInstances: (unitKey: string) => number;
  /** The gateway's cap on invocations at once (GetAccountSettings' ConcurrentExecutions), if it has one. */
  maxConcurrentInvocations?: number;
  /** Whether the gateway authenticates callers: its function URLs are then AWS_IAM, else NONE. */
  authenticates?: boolean;
  /** Node's process.arch of the machines functions run on (default: this process's). */
  arch?: string;
  /** The event-source mappings this gateway runs, as Lambda's EventSourceMappingConfiguration, of one function or all (ListEventSourceMappings); none: an empty list. */
  eventSourceMappings?: (functionName: string | undefined) => Promise<readonly Record<string, unknown>[]>;
}

type NameParams = { name: string };
type QualifierQuery = { Qualifier?: string };

const FUNCTIONS = '/2015-03-31/functions';
const ACTION_OPERATION = (req: FastifyRequest): string => (requestAction(req) ?? 'lambda:Request').slice('lambda:'.length);
const nameParams = { type: 'object', properties: nameParam };

/** One route, two operations: with List (=ALL) it is ListProvisionedConcurrencyConfigs, which IAM names apart from reading one alias's. */
export const provisionedConcurrencyAction = (req: FastifyRequest): LambdaAction =>
  (req.query as { List?: unknown } | undefined)?.List !== undefined ? 'lambda:ListProvisionedConcurrencyConfigs' : 'lambda:GetProvisionedConcurrencyConfig';
const qualifierQuery = { type: 'object', properties: { Qualifier: { type: 'string', description: 'A version number or an alias ($LATEST when absent)' } } };

export const functionsApi: FastifyPluginAsync<FunctionsApiOptions> = async (app, opts) => {
  const home = arnHome(opts.arn('_'));
  const architecture = lambdaArchitecture(opts.arch ?? process.arch);
  const context = (arn: string): ConfigurationContext => ({ functionArn: arn, accountId: home.accountId, architecture });
  const urlAuthType: UrlAuthType = opts.authenticates === true ? 'AWS_IAM' : 'NONE';

  // A body beyond a route's limit is Lambda's 413 for that operation; every other error goes on to the gateway's handler.
  app.setErrorHandler((err: FastifyError, req) => {
    throw err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? requestTooLarge(ACTION_OPERATION(req)) : err;
  });

  const named = (req: FastifyRequest<{ Params: NameParams }>, qualifier: 'refuse' | 'allow' = 'refuse'): NamedFunction =>
    namedFunction(req.params.name, home, opts.arn, req.hearthCaller, qualifier);
  const stored = (f: NamedFunction): Promise<StoredFunction> => viaStore(opts.store.getFunction(f.name), `Function not found: ${f.arn}`);
  const body = (req: FastifyRequest): Body => jsonObjectBody(req.body, invalidBody);
  /** The gateway as the caller reached it, for URLs it hands out (Code.Location, FunctionUrl). */
  const publicBase = (req: FastifyRequest): string => `${req.protocol}://${req.headers.host ?? `${req.hostname}`}`;

  /** FunctionConfigurations with CodeSize, which for an uploaded package only Uploads knows. */
  const latestOf = async (arn: string, s: StoredFunction): Promise<Record<string, unknown>> => latestConfiguration(context(arn), s, await uploadedSize(opts.uploads, s.fn.spec));
  /** $LATEST's configuration as an unqualified read or write answers it: Lambda names the function by its unqualified ARN there. */
  const unqualifiedOf = async (arn: string, s: StoredFunction): Promise<Record<string, unknown>> => ({ ...(await latestOf(arn, s)), FunctionArn: arn });
  const versionOf = async (arn: string, v: FunctionVersion, qualifier = v.spec.version): Promise<Record<string, unknown>> =>
    versionConfiguration(context(arn), v, qualifier, await uploadedSize(opts.uploads, v.spec.snapshot));

  /** Stores a ZIP through Uploads and names it; an image is named as it is. */
  const nameCode = async (code: CodeRequest): Promise<{ code: Code }> => {
    if ('image' in code) return { code: { image: code.image } };
    if (opts.uploads === undefined) {
      throw badParameter('ZipFile: this gateway has no package store for uploads; give ImageUri, or name the package in the Function\'s spec (code.package)');
    }
    try {
      const up = await opts.uploads.put(code.zip);
      return { code: { package: up.source } };
    } catch (err) {
      if (isPackageError(err)) throw badParameter(`Could not unzip uploaded file. Please check your file, then try to upload again. (${err.message})`);
      throw err;
    }
  };

  /** RevisionId from a body checked against the stored function: the store's revision to write against, or 412. */
  const revisionFor = (b: Body, current: StoredFunction, arn: string): string | undefined => {
    const r = expectedRevision(b.RevisionId, current.revision);
    if (!r.ok) throw staleRevision(arn);
    return r.expected;
  };

  const update = (f: NamedFunction, edit: (spec: FunctionSpecInput) => FunctionSpecInput, expected?: string): Promise<StoredFunction> =>
    viaStore(opts.store.updateFunction(f.name, edit, expected !== undefined ? { expectedRevision: expected } : {}), `Function not found: ${f.arn}`);

  /** A qualifier's published version or alias: what GetFunction and GetFunctionConfiguration show for it. */
  const qualified = async (f: NamedFunction, current: StoredFunction, qualifier: string): Promise<{ version?: FunctionVersion; alias?: Alias }> => {
    const missing = () => new LambdaError(404, 'ResourceNotFoundException', `Function not found: ${f.arn}:${qualifier}`);
    if (VERSION_NUMBER.test(qualifier)) {
      const version = (await viaStore(opts.store.listVersions(f.name), `Function not found: ${f.arn}`)).find((v) => v.spec.version === qualifier);
      if (version === undefined) throw missing();
      return { version };
    }
    // Aliases are part of the Function just read: no second read of it.
    const alias = current.fn.spec.aliases?.find((a) => a.name === qualifier);
    if (alias === undefined) throw missing();
    if (alias.version === LATEST) return { alias };
    const version = (await viaStore(opts.store.listVersions(f.name))).find((v) => v.spec.version === alias.version);
    if (version === undefined) throw missing();
    return { version, alias };
  };

  /** The configuration a (qualified) read shows, with the spec it runs. */
  const configurationOf = async (f: NamedFunction, query: QualifierQuery): Promise<{ config: Record<string, unknown>; runs: FunctionSpec; current: StoredFunction; latest: boolean }> => {
    const qualifier = resolveQualifier(f.qualifier, query.Qualifier === '' ? undefined : query.Qualifier);
    const current = await stored(f);
    if (qualifier === undefined || qualifier === LATEST) {
      const config = qualifier === undefined ? await unqualifiedOf(f.arn, current) : await latestOf(f.arn, current);
      return { config, runs: current.fn.spec, current, latest: true };
    }
    const { version, alias } = await qualified(f, current, qualifier);
    if (version === undefined) {
      const config = await latestOf(f.arn, current);
      config.FunctionArn = `${f.arn}:${qualifier}`;
      return { config, runs: current.fn.spec, current, latest: false };
    }
    return { config: await versionOf(f.arn, version, alias?.name ?? version.spec.version), runs: version.spec.snapshot, current, latest: false };
  };

  /**
   * Code.Location of a package the uploads hold, found by its digest: the
   * spec may name the upload itself or a copy of the same bytes (a version
   * published under hearth up keeps its own), and either way the download is
   * the code it runs.
   */
  const location = async (req: FastifyRequest, spec: FunctionSpec): Promise<string | undefined> => {
    const sha = spec.code.package?.sha256;
    if (sha === undefined || opts.uploads === undefined || (await opts.uploads.size(sha)) === undefined) return undefined;
    return opts.uploads.location(sha, publicBase(req));
  };

  const conflictAsLambda = async <T>(work: Promise<T>, name: string, arn: string): Promise<T> => {
    try {
      return await work;
    } catch (err) {
      if (err instanceof StoreError && err.kind === 'conflict') throw new LambdaError(409, 'ResourceConflictException', `Function already exist: ${name}`);
      return viaStore(Promise.reject(err), `Function not found: ${arn}`);
    }
  };

  // CreateFunction (and ListFunctions below) are served with and without the trailing slash, as AWS's clients send both.
  for (const path of [FUNCTIONS, `${FUNCTIONS}/`]) {
    app.post(
      path,
      { bodyLimit: CODE_BODY_LIMIT, config: { lambdaAction: 'lambda:CreateFunction' }, schema: { summary: 'Create a function (Lambda CreateFunction)', tags: ['functions'], hide: path.endsWith('/') } },
      async (req, reply) => {
        const b = body(req);
        const rawName = b.FunctionName;
        if (typeof rawName !== 'string' || rawName === '') throw badParameter('FunctionName is required');
        const f = namedFunction(rawName, home, opts.arn, req.hearthCaller);
        const request = readCreateFunction(b, f.name, architecture);
        const { code } = await nameCode(request.code);
        const created = await conflictAsLambda(opts.store.createFunction(request.input(code)), f.name, f.arn);
        if (request.publish) {
          const published = await viaStore(opts.store.publishVersion(f.name), `Function not found: ${f.arn}`);
          return json(reply, 201, await versionOf(f.arn, published.version));
        }
        return json(reply, 201, await unqualifiedOf(f.arn, created));
      },
    );

    app.get<{ Querystring: ListQuery & { FunctionVersion?: string; MasterRegion?: string } }>(
      path,
      {
        config: { lambdaAction: 'lambda:ListFunctions' },
        schema: {
          summary: 'List functions (Lambda ListFunctions); FunctionVersion=ALL lists every version too',
          tags: ['functions'],
          hide: path.endsWith('/'),
          querystring: { ...listQuery, properties: { ...listQuery.properties, FunctionVersion: { type: 'string' }, MasterRegion: { type: 'string' } } },
        },
      },
      async (req, reply) => {
        const all = req.query.FunctionVersion;
        if (all !== undefined && all !== '' && all !== 'ALL') throw badParameter("FunctionVersion must be 'ALL'");
        if (req.query.MasterRegion !== undefined && req.query.MasterRegion !== '') throw badParameter('MasterRegion: Hearth has no Lambda@Edge replicas');
        const patterns = req.hearthFunctions;
        // The store lists by name, which is the order Markers count in.
        const fns = (await viaStore(opts.store.listFunctions())).filter((s) => patterns === undefined || allowsFunction(patterns, s.fn.metadata.name));
        const configs: Record<string, unknown>[] = [];
        for (const s of fns) {
          const arn = opts.arn(s.fn.metadata.name);
          if (all !== 'ALL') {
            configs.push(await unqualifiedOf(arn, s));
            continue;
          }
          configs.push(await latestOf(arn, s));
          for (const v of await viaStore(opts.store.listVersions(s.fn.metadata.name))) configs.push(await versionOf(arn, v));
        }
        return json(reply, 200, pageAnswer('Functions', configs, req.query));
      },
    );
  }

  app.get<{ Params: NameParams; Querystring: QualifierQuery }>(
    `${FUNCTIONS}/:name`,
    { config: { lambdaAction: 'lambda:GetFunction' }, schema: { summary: 'Get a function, its code location, tags and concurrency (Lambda GetFunction)', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req, reply) => {
      const f = named(req, 'allow');
      const { config, runs, current, latest } = await configurationOf(f, req.query);
      const spec = current.fn.spec;
      const tags = spec.tags ?? {};
      return json(reply, 200, {
        Configuration: config,
        Code: codeLocation(runs, await location(req, runs)),
        ...(latest && Object.keys(tags).length > 0 ? { Tags: tags } : {}),
        ...(spec.reservedConcurrency !== undefined ? { Concurrency: { ReservedConcurrentExecutions: spec.reservedConcurrency } } : {}),
      });
    },
  );

  app.get<{ Params: NameParams; Querystring: QualifierQuery }>(
    `${FUNCTIONS}/:name/configuration`,
    { config: { lambdaAction: 'lambda:GetFunctionConfiguration' }, schema: { summary: 'Get a function\'s configuration (Lambda GetFunctionConfiguration)', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req, reply) => json(reply, 200, (await configurationOf(named(req, 'allow'), req.query)).config),
  );

  app.put<{ Params: NameParams }>(
    `${FUNCTIONS}/:name/configuration`,
    { config: { lambdaAction: 'lambda:UpdateFunctionConfiguration' }, schema: { summary: 'Update a function\'s configuration (Lambda UpdateFunctionConfiguration)', tags: ['functions'], params: nameParams } },
    async (req, reply) => {
      const f = named(req);
      const b = body(req);
      const fields = readConfiguration(b, f.name);
      const current = await stored(f);
      const expected = revisionFor(b, current, f.arn);
      const updated = await update(f, (spec) => applyConfiguration(spec, fields), expected);
      return json(reply, 200, await unqualifiedOf(f.arn, updated));
    },
  );

  app.put<{ Params: NameParams }>(
    `${FUNCTIONS}/:name/code`,
    { bodyLimit: CODE_BODY_LIMIT, config: { lambdaAction: 'lambda:UpdateFunctionCode' }, schema: { summary: 'Replace a function\'s code (Lambda UpdateFunctionCode)', tags: ['functions'], params: nameParams } },
    async (req, reply) => {
      const f = named(req);
      const b = body(req);
      checkArchitectures(b, architecture);
      const publish = optionalBoolean(b, 'Publish') ?? false;
      const dryRun = optionalBoolean(b, 'DryRun') ?? false;
      const current = await stored(f);
      const expected = revisionFor(b, current, f.arn);
      const request = updateCode(b, current.fn.spec.code.image !== undefined ? 'Image' : 'Zip');
      if (dryRun) {
        // Checked, not applied: Lambda's DryRun validates the request and the caller's permission.
        return json(reply, 200, await unqualifiedOf(f.arn, current));
      }
      const { code } = await nameCode(request);
      const updated = await update(f, (spec) => ({ ...spec, code }), expected);
      if (publish) {
        const published = await viaStore(opts.store.publishVersion(f.name), `Function not found: ${f.arn}`);
        return json(reply, 200, await versionOf(f.arn, published.version));
      }
      return json(reply, 200, await unqualifiedOf(f.arn, updated));
    },
  );

  // Reserved concurrency: spec.reservedConcurrency.
  app.put<{ Params: NameParams }>(
    '/2017-10-31/functions/:name/concurrency',
    { config: { lambdaAction: 'lambda:PutFunctionConcurrency' }, schema: { summary: 'Reserve concurrency (Lambda PutFunctionConcurrency)', tags: ['functions'], params: nameParams } },
    async (req, reply) => {
      const f = named(req);
      const n = optionalInteger(body(req), 'ReservedConcurrentExecutions', 0, 100_000);
      if (n === undefined) throw badParameter('ReservedConcurrentExecutions is required');
      await update(f, (spec) => ({ ...spec, reservedConcurrency: n }));
      return json(reply, 200, { ReservedConcurrentExecutions: n });
    },
  );

  app.delete<{ Params: NameParams }>(
    '/2017-10-31/functions/:name/concurrency',
    { config: { lambdaAction: 'lambda:DeleteFunctionConcurrency' }, schema: { summary: 'Remove reserved concurrency (Lambda DeleteFunctionConcurrency)', tags: ['functions'], params: nameParams } },
    async (req, reply) => {
      await update(named(req), ({ reservedConcurrency: _r, ...spec }) => spec);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: NameParams }>(
    '/2019-09-30/functions/:name/concurrency',
    { config: { lambdaAction: 'lambda:GetFunctionConcurrency' }, schema: { summary: 'Reserved concurrency (Lambda GetFunctionConcurrency)', tags: ['functions'], params: nameParams } },
    async (req, reply) => {
      const r = (await stored(named(req))).fn.spec.reservedConcurrency;
      return json(reply, 200, r !== undefined ? { ReservedConcurrentExecutions: r } : {});
    },
  );

  // Provisioned concurrency: an alias's minInstances (src/control/provisioned.ts).
  const readiness = (fn: StoredFunction): UnitReadiness => {
    const name = fn.fn.metadata.name;
    const runs = (version: string): FunctionSpec | undefined => (version === LATEST ? fn.fn.spec : opts.catalog.versions(name).find((v) => v.spec.version === version)?.spec.snapshot);
    return {
      readyInstances: opts.readyInstances,
      concurrency: (v) => runs(v)?.concurrency ?? 1,
      maxInstances: (v) => runs(v)?.scaling.maxInstances ?? 1,
    };
  };
  const aliasOf = (f: NamedFunction, current: StoredFunction, qualifier: string): Alias => {
    const alias = current.fn.spec.aliases?.find((a) => a.name === qualifier);
    if (alias === undefined) throw new LambdaError(404, 'ResourceNotFoundException', `Cannot find alias arn: ${f.arn}:${qualifier}`);
    return alias;
  };
  const noProvisioned = () => new LambdaError(404, 'ProvisionedConcurrencyConfigNotFoundException', 'No Provisioned Concurrency Config found for this function');
  const provisionedPath = '/2019-09-30/functions/:name/provisioned-concurrency';

  app.put<{ Params: NameParams; Querystring: QualifierQuery }>(
    provisionedPath,
    { config: { lambdaAction: 'lambda:PutProvisionedConcurrencyConfig' }, schema: { summary: 'Provision an alias\'s instances (Lambda PutProvisionedConcurrencyConfig)', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req, reply) => {
      const f = named(req);
      const qualifier = provisionedQualifier(req.query.Qualifier);
      const executions = optionalInteger(body(req), 'ProvisionedConcurrentExecutions', 1, 1_000_000);
      if (executions === undefined) throw badParameter('ProvisionedConcurrentExecutions is required');
      const current = await stored(f);
      const alias = aliasOf(f, current, qualifier);
      const minInstances = instancesFor(executions, readiness(current).concurrency(alias.version));
      const written = await viaStore(opts.store.putAlias(f.name, { ...alias, minInstances }, 'update'), `Cannot find alias arn: ${f.arn}:${qualifier}`);
      const after = await stored(f);
      return json(reply, 202, provisionedConfig(f.name, after.fn.spec, written, readiness(after), after.lastModified));
    },
  );

  app.get<{ Params: NameParams; Querystring: QualifierQuery & ListQuery & { List?: string } }>(
    provisionedPath,
    {
      config: { lambdaAction: provisionedConcurrencyAction },
      schema: {
        summary: 'An alias\'s provisioned concurrency (Lambda GetProvisionedConcurrencyConfig), or with List=ALL every alias\'s (ListProvisionedConcurrencyConfigs)',
        tags: ['functions'],
        params: nameParams,
        querystring: { type: 'object', properties: { ...qualifierQuery.properties, ...listQuery.properties, List: { type: 'string' } } },
      },
    },
    async (req, reply) => {
      const f = named(req);
      const current = await stored(f);
      if (req.query.List !== undefined) {
        if (req.query.List !== 'ALL') throw badParameter("List must be 'ALL'");
        const items = (current.fn.spec.aliases ?? [])
          .filter((a) => a.minInstances > 0)
          .map((a) => ({ FunctionArn: `${f.arn}:${a.name}`, ...provisionedConfig(f.name, current.fn.spec, a, readiness(current), current.lastModified) }));
        return json(reply, 200, pageAnswer('ProvisionedConcurrencyConfigs', items, req.query, 50));
      }
      const alias = aliasOf(f, current, provisionedQualifier(req.query.Qualifier));
      if (alias.minInstances === 0) throw noProvisioned();
      return json(reply, 200, provisionedConfig(f.name, current.fn.spec, alias, readiness(current), current.lastModified));
    },
  );

  app.delete<{ Params: NameParams; Querystring: QualifierQuery }>(
    provisionedPath,
    { config: { lambdaAction: 'lambda:DeleteProvisionedConcurrencyConfig' }, schema: { summary: 'Stop provisioning an alias\'s instances (Lambda DeleteProvisionedConcurrencyConfig)', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req, reply) => {
      const f = named(req);
      const qualifier = provisionedQualifier(req.query.Qualifier);
      const alias = aliasOf(f, await stored(f), qualifier);
      if (alias.minInstances > 0) await viaStore(opts.store.putAlias(f.name, { ...alias, minInstances: 0 }, 'update'), `Cannot find alias arn: ${f.arn}:${qualifier}`);
      return reply.code(204).send();
    },
  );

  // Asynchronous invocation: spec.async, one per function (src/control/event-invoke-config.ts).
  const eventInvokePath = '/2019-09-25/functions/:name/event-invoke-config';
  const ownFunction = (arn: string): string | undefined => {
    if (!arn.startsWith('arn:')) return undefined;
    try {
      const ref = parseFunctionName(arn);
      if (ref.region !== home.region || ref.accountId !== home.accountId || ref.partition !== home.partition) return undefined;
      if (ref.qualifier !== undefined && ref.qualifier !== LATEST) return undefined;
      return ref.name;
    } catch {
      return undefined;
    }
  };
  const eventQualifier = (f: NamedFunction, query: QualifierQuery): void => {
    const q = resolveQualifier(f.qualifier, query.Qualifier === '' ? undefined : query.Qualifier);
    if (q !== undefined && q !== LATEST) throw badParameter(`Qualifier ${q}: Hearth keeps one asynchronous invocation configuration per function, for all its versions and aliases; give no Qualifier`);
  };
  const noEventConfig = (f: NamedFunction) => new LambdaError(404, 'ResourceNotFoundException', `The function ${f.arn}:$LATEST doesn't have an EventInvokeConfig`);
  const eventConfigOf = (f: NamedFunction, s: StoredFunction) => eventInvokeConfig(f.arn, s.fn.spec.async, s.lastModified, opts.arn);

  for (const [method, mode] of [['PUT', 'replace'], ['POST', 'merge']] as const) {
    app.route<{ Params: NameParams; Querystring: QualifierQuery }>({
      method,
      url: eventInvokePath,
      config: { lambdaAction: mode === 'replace' ? 'lambda:PutFunctionEventInvokeConfig' : 'lambda:UpdateFunctionEventInvokeConfig' },
      schema: {
        summary: mode === 'replace' ? 'Set asynchronous invocation settings (Lambda PutFunctionEventInvokeConfig)' : 'Change asynchronous invocation settings (Lambda UpdateFunctionEventInvokeConfig)',
        tags: ['functions'],
        params: nameParams,
        querystring: qualifierQuery,
      },
      handler: async (req, reply) => {
        const f = named(req, 'allow');
        eventQualifier(f, req.query);
        const fields = readEventInvokeConfig(body(req), ownFunction);
        if (mode === 'merge' && !hasEventInvokeConfig((await stored(f)).fn.spec.async)) throw noEventConfig(f);
        const updated = await update(f, (spec) => applyEventInvokeConfig(spec, fields, mode));
        return json(reply, 200, eventConfigOf(f, updated));
      },
    });
  }

  app.get<{ Params: NameParams; Querystring: QualifierQuery }>(
    eventInvokePath,
    { config: { lambdaAction: 'lambda:GetFunctionEventInvokeConfig' }, schema: { summary: 'Asynchronous invocation settings (Lambda GetFunctionEventInvokeConfig)', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req, reply) => {
      const f = named(req, 'allow');
      eventQualifier(f, req.query);
      const s = await stored(f);
      if (!hasEventInvokeConfig(s.fn.spec.async)) throw noEventConfig(f);
      return json(reply, 200, eventConfigOf(f, s));
    },
  );

  app.delete<{ Params: NameParams; Querystring: QualifierQuery }>(
    eventInvokePath,
    { config: { lambdaAction: 'lambda:DeleteFunctionEventInvokeConfig' }, schema: { summary: 'Asynchronous invocation settings back to the defaults (Lambda DeleteFunctionEventInvokeConfig)', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req, reply) => {
      const f = named(req, 'allow');
      eventQualifier(f, req.query);
      if (!hasEventInvokeConfig((await stored(f)).fn.spec.async)) throw noEventConfig(f);
      await update(f, withoutEventInvokeConfig);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: NameParams; Querystring: ListQuery }>(
    `${eventInvokePath}/list`,
    { config: { lambdaAction: 'lambda:ListFunctionEventInvokeConfigs' }, schema: { summary: 'Asynchronous invocation settings, listed (Lambda ListFunctionEventInvokeConfigs)', tags: ['functions'], params: nameParams, querystring: listQuery } },
    async (req, reply) => {
      const f = named(req);
      const s = await stored(f);
      return json(reply, 200, pageAnswer('FunctionEventInvokeConfigs', hasEventInvokeConfig(s.fn.spec.async) ? [eventConfigOf(f, s)] : [], req.query, 50));
    },
  );

  // Function URLs: every function and alias has one already, in its invoke mode (src/control/function-url-config.ts).
  const urlPath = '/2021-10-31/functions/:name/url';
  /** The URL settings of the function (q undefined) or of one of its aliases. */
  const urlSettingsOf = (s: StoredFunction, q: string | undefined) => (q === undefined ? s.fn.spec.url : s.fn.spec.aliases?.find((a) => a.name === q)?.url);
  /** The URL of the function (q undefined) or one of its aliases, /fn/NAME[:ALIAS]/ on this gateway. */
  const urlConfigOf = (base: string, f: NamedFunction, q: string | undefined, s: StoredFunction): Record<string, unknown> =>
    functionUrlConfig(`${base}/fn/${f.name}${q !== undefined ? `:${q}` : ''}/`, q !== undefined ? `${f.arn}:${q}` : f.arn, urlAuthType, s.lastModified, urlInvokeMode(urlSettingsOf(s, q)));
  /** The function and the URL a request names: its own, or an alias's (404 for an alias it does not have). */
  const urlTarget = async (req: FastifyRequest<{ Params: NameParams; Querystring: QualifierQuery }>): Promise<{ f: NamedFunction; q: string | undefined; s: StoredFunction }> => {
    const f = named(req, 'allow');
    const q = urlQualifier(resolveQualifier(f.qualifier, req.query.Qualifier === '' ? undefined : req.query.Qualifier));
    const s = await stored(f);
    if (q !== undefined && !s.fn.spec.aliases?.some((a) => a.name === q)) throw new LambdaError(404, 'ResourceNotFoundException', `Function not found: ${f.arn}:${q}`);
    return { f, q, s };
  };
  /** Writes the URL's invoke mode: spec.url of the function, or url of the alias (aliases are written through putAlias). */
  const writeInvokeMode = async (f: NamedFunction, q: string | undefined, s: StoredFunction, invokeMode: UrlInvokeMode): Promise<StoredFunction> => {
    if (q === undefined) return update(f, (spec) => withUrlInvokeMode(spec, invokeMode));
    const alias = aliasOf(f, s, q);
    await viaStore(opts.store.putAlias(f.name, { ...alias, url: { ...alias.url, invokeMode } }, 'update'), `Function not found: ${f.arn}:${q}`);
    return stored(f);
  };
  const urlRoute = (method: 'GET' | 'POST' | 'PUT', action: 'GetFunctionUrlConfig' | 'CreateFunctionUrlConfig' | 'UpdateFunctionUrlConfig', status: number, summary: string) =>
    app.route<{ Params: NameParams; Querystring: QualifierQuery }>({
      method,
      url: urlPath,
      config: { lambdaAction: `lambda:${action}` },
      schema: { summary, tags: ['functions'], params: nameParams, querystring: qualifierQuery },
      handler: async (req, reply) => {
        const asked = method === 'GET' ? {} : checkUrlConfig(body(req), urlAuthType, method === 'POST');
        const { f, q, s } = await urlTarget(req);
        // Written only when it changes, so asking for what the URL is leaves the Function (and its RevisionId) alone.
        const now = asked.invokeMode !== undefined && asked.invokeMode !== urlInvokeMode(urlSettingsOf(s, q)) ? await writeInvokeMode(f, q, s, asked.invokeMode) : s;
        const config = urlConfigOf(publicBase(req), f, q, now);
        // CreateFunctionUrlConfig's answer has no LastModifiedTime in Lambda's model.
        if (method === 'POST') delete config.LastModifiedTime;
        return json(reply, status, config);
      },
    });
  urlRoute('GET', 'GetFunctionUrlConfig', 200, 'The function\'s URL (Lambda GetFunctionUrlConfig): /fn/NAME[:ALIAS]/ on this gateway, with its InvokeMode');
  urlRoute('POST', 'CreateFunctionUrlConfig', 201, 'Every function has its URL already: sets its InvokeMode (BUFFERED unless named) and answers it; an AuthType or CORS the URL cannot have is 400');
  urlRoute('PUT', 'UpdateFunctionUrlConfig', 200, 'Sets the URL\'s InvokeMode when named (BUFFERED or RESPONSE_STREAM); an AuthType or CORS the URL cannot have is 400');
  app.delete<{ Params: NameParams; Querystring: QualifierQuery }>(
    urlPath,
    { config: { lambdaAction: 'lambda:DeleteFunctionUrlConfig' }, schema: { summary: 'Refused: the URL goes with the function or alias', tags: ['functions'], params: nameParams, querystring: qualifierQuery } },
    async (req) => {
      await urlTarget(req);
      throw badParameter('Hearth serves a URL for every function and alias (/fn/NAME[:ALIAS]/); it goes when the function or alias is deleted, and cannot be removed alone');
    },
  );
  app.get<{ Params: NameParams; Querystring: ListQuery }>(
    '/2021-10-31/functions/:name/urls',
    { config: { lambdaAction: 'lambda:ListFunctionUrlConfigs' }, schema: { summary: 'The URLs of the function and its aliases (Lambda ListFunctionUrlConfigs)', tags: ['functions'], params: nameParams, querystring: listQuery } },
    async (req, reply) => {
      const f = named(req);
      const s = await stored(f);
      const base = publicBase(req);
      const items = [undefined, ...(s.fn.spec.aliases ?? []).map((a) => a.name)].map((q) => urlConfigOf(base, f, q, s));
      return json(reply, 200, pageAnswer('FunctionUrlConfigs', items, req.query, 50));
    },
  );

  // Tags: spec.tags, named by the function's ARN.
  const tagsPath = '/2017-03-31/tags/:arn';
  const tagged = (req: FastifyRequest<{ Params: { arn: string } }>): NamedFunction => {
    const raw = req.params.arn;
    if (!raw.startsWith('arn:')) throw badParameter(`Resource ${raw}: tags name a function by its ARN`);
    return namedFunction(raw, home, opts.arn, req.hearthCaller);
  };
  const arnParams = { type: 'object', properties: { arn: { type: 'string', description: 'The function\'s ARN' } } };

  app.post<{ Params: { arn: string } }>(
    tagsPath,
    { config: { lambdaAction: 'lambda:TagResource' }, schema: { summary: 'Add tags (Lambda TagResource)', tags: ['functions'], params: arnParams } },
    async (req, reply) => {
      const f = tagged(req);
      const tags = optionalStringMap(body(req), 'Tags');
      if (tags === undefined || Object.keys(tags).length === 0) throw badParameter('Tags is required: a map of keys to values');
      checkTags(tags);
      await update(f, (spec) => withTags(spec, tags));
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { arn: string }; Querystring: { tagKeys?: string | string[] } }>(
    tagsPath,
    { config: { lambdaAction: 'lambda:UntagResource' }, schema: { summary: 'Remove tags (Lambda UntagResource)', tags: ['functions'], params: arnParams } },
    async (req, reply) => {
      const f = tagged(req);
      const k = req.query.tagKeys;
      const keys = k === undefined ? [] : Array.isArray(k) ? k : [k];
      if (keys.length === 0) throw badParameter('tagKeys is required');
      await update(f, (spec) => withoutTags(spec, keys));
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { arn: string } }>(
    tagsPath,
    { config: { lambdaAction: 'lambda:ListTags' }, schema: { summary: 'A function\'s tags (Lambda ListTags)', tags: ['functions'], params: arnParams } },
    async (req, reply) => json(reply, 200, { Tags: (await stored(tagged(req))).fn.spec.tags ?? {} }),
  );

  for (const path of ['/2016-08-19/account-settings', '/2016-08-19/account-settings/']) {
    app.get(
      path,
      { config: { lambdaAction: 'lambda:GetAccountSettings' }, schema: { summary: 'Hearth\'s limits and usage (Lambda GetAccountSettings)', tags: ['functions'], hide: path.endsWith('/') } },
      async (_req, reply) => json(reply, 200, accountSettings(opts.catalog.list().map((f) => f.spec), opts.maxConcurrentInvocations)),
    );
  }

  app.get<{ Params: NameParams }>(
    '/2020-06-30/functions/:name/code-signing-config',
    { config: { lambdaAction: 'lambda:GetFunctionCodeSigningConfig' }, schema: { summary: 'Code signing: Hearth has none (Lambda GetFunctionCodeSigningConfig)', tags: ['functions'], params: nameParams } },
    async (req, reply) => {
      const f = named(req);
      await stored(f);
      return json(reply, 200, { CodeSigningConfigArn: '', FunctionName: f.name });
    },
  );

  for (const path of ['/2015-03-31/event-source-mappings', '/2015-03-31/event-source-mappings/']) {
    app.get<{ Querystring: ListQuery & { FunctionName?: string; EventSourceArn?: string } }>(
      path,
      { config: { lambdaAction: 'lambda:ListEventSourceMappings' }, schema: { summary: 'Event source mappings with their state, last processing result and lag (Lambda ListEventSourceMappings)', tags: ['functions'], hide: path.endsWith('/') } },
      async (req, reply: FastifyReply) => {
        const fn = req.query.FunctionName;
        const named = fn !== undefined && fn !== '' ? namedFunction(fn, home, opts.arn, req.hearthCaller, 'allow') : undefined;
        if (named) await stored(named);
        return json(reply, 200, pageAnswer('EventSourceMappings', (await opts.eventSourceMappings?.(named?.name)) ?? [], req.query));
      },
    );
  }
};
