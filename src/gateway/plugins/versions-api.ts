// Lambda's control routes for versions and aliases, over a FunctionStore
// (the functions directory under hearth up, the Kubernetes API in a
// cluster): PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias,
// UpdateAlias, DeleteAlias, ListAliases and DeleteFunction with a Qualifier
// (deleting a version). `hearth publish|alias|versions` call these, and so
// can AWS's SDKs and CLI. Each route names one function, and authorisation
// treats it as that function's (src/gateway/auth/route-target.ts).
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import { LATEST, VERSION_NUMBER, type Alias, type HearthFunction } from '../../api/function.js';
import { StoreError, type FunctionStore } from '../../store/function-store.js';
import { sendsTo } from '../../versions/alias-problems.js';
import { arnHome, foreignArnError, parseFunctionName, resolveQualifier } from '../invoke-request.js';
import { badParameter, LambdaError, notFound } from '../lambda-errors.js';
import {
  aliasConfiguration,
  aliasRevision,
  createAliasInput,
  describeProblem,
  digestHex,
  functionConfiguration,
  jsonObjectBody,
  updatedAliasInput,
} from '../version-shapes.js';

export interface VersionsApiOptions {
  store: FunctionStore;
  catalog: FunctionCatalog;
  arn: (name: string) => string;
}

const MAX_ITEMS = 10_000;
const DEFAULT_ITEMS = 50;

type NameParams = { name: string };
type AliasParams = { name: string; alias: string };
type ListQuery = { Marker?: string; MaxItems?: string; FunctionVersion?: string };

/** A StoreError as Lambda's REST error; `notFoundMessage` names the missing thing as Lambda does (by its ARN). */
export function storeToLambdaError(err: unknown, notFoundMessage?: string): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.kind) {
    case 'not-found':
      return new LambdaError(404, 'ResourceNotFoundException', notFoundMessage ?? err.message);
    case 'conflict':
      return new LambdaError(409, 'ResourceConflictException', err.message);
    case 'invalid': {
      const message = err.problems.length > 0 ? err.problems.map(describeProblem).join('; ') : err.message;
      return new LambdaError(400, 'InvalidParameterValueException', message, err.problems.length > 0 ? { Problems: err.problems } : {});
    }
    case 'precondition':
      return new LambdaError(412, 'PreconditionFailedException', err.message);
  }
}

/** Lambda's Marker and MaxItems over a list: the marker is the position of the next item. */
export function page<T>(items: readonly T[], query: ListQuery): { items: T[]; nextMarker?: string } {
  const start = query.Marker === undefined || query.Marker === '' ? 0 : Number(query.Marker);
  if (!Number.isSafeInteger(start) || start < 0) throw badParameter(`Marker ${query.Marker ?? ''} is not one this gateway gave`);
  const max = query.MaxItems === undefined || query.MaxItems === '' ? DEFAULT_ITEMS : Number(query.MaxItems);
  if (!Number.isInteger(max) || max < 1 || max > MAX_ITEMS) throw badParameter(`MaxItems must be an integer from 1 to ${MAX_ITEMS}`);
  const end = start + max;
  return { items: items.slice(start, end), ...(end < items.length ? { nextMarker: String(end) } : {}) };
}

/** A store call whose StoreError answers as Lambda's error. */
async function viaStore<T>(work: Promise<T>, notFoundMessage?: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw storeToLambdaError(err, notFoundMessage);
  }
}

function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

const invalidBody = (detail: string) => new LambdaError(400, 'InvalidRequestContentException', `Could not parse request body into json: ${detail}`);

const nameParam = { name: { type: 'string', description: 'Function name or ARN' } };
const listQuery = {
  type: 'object',
  properties: { Marker: { type: 'string', description: 'Where the previous page ended (NextMarker)' }, MaxItems: { type: 'string', description: `At most this many (1-${MAX_ITEMS}, default ${DEFAULT_ITEMS})` } },
};

export const versionsApi: FastifyPluginAsync<VersionsApiOptions> = async (app, opts) => {
  const home = arnHome(opts.arn('_'));

  /** The function a route names (a name or an ARN of this gateway's region and account), which must exist. */
  const functionOf = (raw: string, caller: string | undefined, qualifier: 'refuse' | 'allow' = 'refuse'): { fn: HearthFunction; arn: string; qualifier?: string } => {
    const ref = parseFunctionName(raw);
    const foreign = foreignArnError(ref, home, raw, caller);
    if (foreign) throw foreign;
    if (ref.qualifier !== undefined && qualifier === 'refuse') throw badParameter(`${raw}: this operation takes an unqualified function name`);
    const arn = opts.arn(ref.name);
    const fn = opts.catalog.get(ref.name);
    if (fn === undefined) throw notFound(arn);
    return { fn, arn, ...(ref.qualifier !== undefined ? { qualifier: ref.qualifier } : {}) };
  };

  const currentAlias = async (fn: HearthFunction, arn: string, alias: string): Promise<Alias> => {
    const found = (await viaStore(opts.store.listAliases(fn.metadata.name))).find((a) => a.name === alias);
    if (found === undefined) throw new LambdaError(404, 'ResourceNotFoundException', `Alias not found: ${arn}:${alias}`);
    return found;
  };

  app.post<{ Params: NameParams }>(
    '/2015-03-31/functions/:name/versions',
    { schema: { summary: 'Publish a version (Lambda PublishVersion)', tags: ['versions'], params: { type: 'object', properties: nameParam } } },
    async (req, reply) => {
      const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
      const body = jsonObjectBody(req.body, invalidBody);
      const description = body.Description;
      if (description !== undefined && description !== null && (typeof description !== 'string' || description.length > 256)) throw badParameter('Description must be a string of at most 256 characters');
      const sha = body.CodeSha256;
      let expectedDigest: string | undefined;
      if (sha !== undefined && sha !== null && sha !== '') {
        expectedDigest = typeof sha === 'string' ? digestHex(sha) : undefined;
        if (expectedDigest === undefined) throw badParameter('CodeSha256 must be the base64 (or hex) SHA-256 of a version');
      }
      const name = fn.metadata.name;
      const publish = { ...(typeof description === 'string' && description !== '' ? { description } : {}), ...(expectedDigest !== undefined ? { expectedDigest } : {}) };
      const result = await viaStore(opts.store.publishVersion(name, publish), `Function not found: ${arn}`);
      // Lambda answers an unchanged function with its latest version; this header says which it was.
      reply.header('x-hearth-version-created', String(result.created));
      return json(reply, 201, functionConfiguration(name, arn, fn.spec, result.version));
    },
  );

  app.get<{ Params: NameParams; Querystring: ListQuery }>(
    '/2015-03-31/functions/:name/versions',
    { schema: { summary: 'List versions, $LATEST first (Lambda ListVersionsByFunction)', tags: ['versions'], params: { type: 'object', properties: nameParam }, querystring: listQuery } },
    async (req, reply) => {
      const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
      const name = fn.metadata.name;
      const versions = await viaStore(opts.store.listVersions(name), `Function not found: ${arn}`);
      const all = [functionConfiguration(name, arn, fn.spec), ...versions.map((v) => functionConfiguration(name, arn, fn.spec, v))];
      const p = page(all, req.query);
      return json(reply, 200, { Versions: p.items, ...(p.nextMarker !== undefined ? { NextMarker: p.nextMarker } : {}) });
    },
  );

  app.post<{ Params: NameParams }>(
    '/2015-03-31/functions/:name/aliases',
    { schema: { summary: 'Create an alias (Lambda CreateAlias)', tags: ['versions'], params: { type: 'object', properties: nameParam } } },
    async (req, reply) => {
      const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
      const input = createAliasInput(jsonObjectBody(req.body, invalidBody));
      const alias = await viaStore(opts.store.putAlias(fn.metadata.name, input, 'create'));
      return json(reply, 201, aliasConfiguration(arn, alias));
    },
  );

  app.get<{ Params: NameParams; Querystring: ListQuery }>(
    '/2015-03-31/functions/:name/aliases',
    {
      schema: {
        summary: 'List aliases (Lambda ListAliases)',
        tags: ['versions'],
        params: { type: 'object', properties: nameParam },
        querystring: { ...listQuery, properties: { ...listQuery.properties, FunctionVersion: { type: 'string', description: 'Only the aliases that send calls to this version' } } },
      },
    },
    async (req, reply) => {
      const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
      const aliases = await viaStore(opts.store.listAliases(fn.metadata.name), `Function not found: ${arn}`);
      const v = req.query.FunctionVersion;
      const chosen = v === undefined || v === '' ? aliases : aliases.filter((a) => sendsTo(a, v));
      const p = page(chosen.map((a) => aliasConfiguration(arn, a)), req.query);
      return json(reply, 200, { Aliases: p.items, ...(p.nextMarker !== undefined ? { NextMarker: p.nextMarker } : {}) });
    },
  );

  const aliasParams = { type: 'object', properties: { ...nameParam, alias: { type: 'string', description: 'Alias name' } } };

  app.get<{ Params: AliasParams }>('/2015-03-31/functions/:name/aliases/:alias', { schema: { summary: 'Get an alias (Lambda GetAlias)', tags: ['versions'], params: aliasParams } }, async (req, reply) => {
    const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
    return json(reply, 200, aliasConfiguration(arn, await currentAlias(fn, arn, req.params.alias)));
  });

  app.put<{ Params: AliasParams }>('/2015-03-31/functions/:name/aliases/:alias', { schema: { summary: 'Update an alias (Lambda UpdateAlias)', tags: ['versions'], params: aliasParams } }, async (req, reply) => {
    const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
    const body = jsonObjectBody(req.body, invalidBody);
    const current = await currentAlias(fn, arn, req.params.alias);
    const revision = body.RevisionId;
    if (revision !== undefined && revision !== null && revision !== '' && revision !== aliasRevision(current)) {
      throw new LambdaError(412, 'PreconditionFailedException', `The RevisionId provided does not match the latest RevisionId for the alias ${arn}:${current.name}. Call GetAlias to retrieve the latest RevisionId.`);
    }
    const alias = await viaStore(opts.store.putAlias(fn.metadata.name, updatedAliasInput(current, body), 'update'), `Alias not found: ${arn}:${req.params.alias}`);
    return json(reply, 200, aliasConfiguration(arn, alias));
  });

  app.delete<{ Params: AliasParams }>('/2015-03-31/functions/:name/aliases/:alias', { schema: { summary: 'Delete an alias (Lambda DeleteAlias)', tags: ['versions'], params: aliasParams } }, async (req, reply) => {
    const { fn, arn } = functionOf(req.params.name, req.hearthCaller);
    await viaStore(opts.store.deleteAlias(fn.metadata.name, req.params.alias), `Alias not found: ${arn}:${req.params.alias}`);
    return reply.code(204).send();
  });

  app.delete<{ Params: NameParams; Querystring: { Qualifier?: string } }>(
    '/2015-03-31/functions/:name',
    {
      schema: {
        summary: 'Delete a version (Lambda DeleteFunction with a Qualifier)',
        tags: ['versions'],
        params: { type: 'object', properties: nameParam },
        querystring: { type: 'object', properties: { Qualifier: { type: 'string', description: 'The version number to delete' } } },
      },
    },
    async (req, reply) => {
      const { fn, arn, qualifier: fromName } = functionOf(req.params.name, req.hearthCaller, 'allow');
      // As the Invoke API reads it: from the name or ?Qualifier=, which must agree.
      const qualifier = resolveQualifier(fromName, req.query.Qualifier === '' ? undefined : req.query.Qualifier);
      if (qualifier === undefined) {
        throw badParameter(
          'Deleting a whole function is not done through this API here: remove its YAML file (hearth up) or its Function object (kubectl delete function). Give a Qualifier to delete one version.',
        );
      }
      if (qualifier === LATEST) throw badParameter('$LATEST version cannot be deleted without deleting the function.');
      if (!VERSION_NUMBER.test(qualifier)) throw badParameter(`Qualifier ${qualifier} is not a version number: delete an alias with DeleteAlias`);
      await viaStore(opts.store.deleteVersion(fn.metadata.name, qualifier), `Function not found: ${arn}:${qualifier}`);
      return reply.code(204).send();
    },
  );
};
