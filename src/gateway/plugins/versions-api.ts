// Lambda's control routes for versions and aliases, over a FunctionStore
// (the functions directory under hearth up, the Kubernetes API in a
// cluster): PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias,
// UpdateAlias, DeleteAlias, ListAliases and DeleteFunction (the whole
// function, or one version with a Qualifier). `hearth publish|alias|versions`
// call these, and so can AWS's SDKs and CLI. Each route names one function,
// and authorisation treats it as that function's
// (src/gateway/auth/route-target.ts); each declares the IAM action it is.
import type { FastifyPluginAsync } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import { LATEST, VERSION_NUMBER, type Alias } from '../../api/function.js';
import { lambdaArchitecture, latestConfiguration, codeDigest, versionConfiguration, type ConfigurationContext } from '../../control/function-configuration.js';
import { digestHex, expectedRevision } from '../../control/revision.js';
import type { FunctionStore } from '../../store/function-store.js';
import type { Uploads } from '../../uploads/uploads.js';
import { sendsTo } from '../../versions/alias-problems.js';
import { arnHome, invalidBody, json, listQuery, nameParam, namedFunction, pageAnswer, staleRevision, uploadedSize, viaStore, type ListQuery } from '../control-requests.js';
import { resolveQualifier } from '../invoke-request.js';
import { badParameter, LambdaError } from '../lambda-errors.js';
import { aliasConfiguration, aliasRevision, createAliasInput, jsonObjectBody, updatedAliasInput } from '../version-shapes.js';

export interface VersionsApiOptions {
  store: FunctionStore;
  catalog: FunctionCatalog;
  arn: (name: string) => string;
  /** Node's process.arch of the machines functions run on (default: this process's). */
  arch?: string;
  /** The uploaded packages, for CodeSize (0 without them). */
  uploads?: Pick<Uploads, 'size'>;
}

type NameParams = { name: string };
type AliasParams = { name: string; alias: string };

export const versionsApi: FastifyPluginAsync<VersionsApiOptions> = async (app, opts) => {
  const home = arnHome(opts.arn('_'));
  const architecture = lambdaArchitecture(opts.arch ?? process.arch);
  const context = (arn: string): ConfigurationContext => ({ functionArn: arn, accountId: home.accountId, architecture });

  /**
   * The function a route names, which must exist. The catalog answers at
   * once; a function it does not have yet is asked of the store, the truth
   * (in a cluster the catalog follows a watch, so a function just created
   * may not be in it for a moment).
   */
  const functionOf = async (raw: string, caller: string | undefined, qualifier: 'refuse' | 'allow' = 'refuse') => {
    const named = namedFunction(raw, home, opts.arn, caller, qualifier);
    if (opts.catalog.get(named.name) === undefined) await viaStore(opts.store.getFunction(named.name), `Function not found: ${named.arn}`);
    return named;
  };

  const currentAlias = async (name: string, arn: string, alias: string): Promise<Alias> => {
    const found = (await viaStore(opts.store.listAliases(name))).find((a) => a.name === alias);
    if (found === undefined) throw new LambdaError(404, 'ResourceNotFoundException', `Alias not found: ${arn}:${alias}`);
    return found;
  };

  app.post<{ Params: NameParams }>(
    '/2015-03-31/functions/:name/versions',
    { config: { lambdaAction: 'lambda:PublishVersion' }, schema: { summary: 'Publish a version (Lambda PublishVersion)', tags: ['versions'], params: { type: 'object', properties: nameParam } } },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      const body = jsonObjectBody(req.body, invalidBody);
      const description = body.Description;
      if (description !== undefined && description !== null && (typeof description !== 'string' || description.length > 256)) throw badParameter('Description must be a string of at most 256 characters');
      const sha = body.CodeSha256;
      let expectedDigest: string | undefined;
      if (sha !== undefined && sha !== null && sha !== '') {
        expectedDigest = typeof sha === 'string' ? digestHex(sha) : undefined;
        if (expectedDigest === undefined) throw badParameter('CodeSha256 must be the base64 (or hex) SHA-256 of a version');
      }
      if ((body.RevisionId !== undefined && body.RevisionId !== null && body.RevisionId !== '') || expectedDigest !== undefined) {
        const stored = await viaStore(opts.store.getFunction(name), `Function not found: ${arn}`);
        if (!expectedRevision(body.RevisionId, stored.revision).ok) throw staleRevision(arn);
        // CodeSha256 is the code's digest (what GetFunction, UpdateFunctionCode and PublishVersion answer): the code as it is
        // matches it here, and the store is asked for no snapshot digest. Any other digest is a stale code digest, which no
        // snapshot has, or a version's snapshot digest (which Hearth's own objects show): the store compares it with the current snapshot's.
        if (expectedDigest === codeDigest(stored.fn.spec)) expectedDigest = undefined;
      }
      const publish = { ...(typeof description === 'string' && description !== '' ? { description } : {}), ...(expectedDigest !== undefined ? { expectedDigest } : {}) };
      const result = await viaStore(opts.store.publishVersion(name, publish), `Function not found: ${arn}`);
      // Lambda answers an unchanged function with its latest version; this header says which it was.
      reply.header('x-hearth-version-created', String(result.created));
      return json(reply, 201, versionConfiguration(context(arn), result.version, undefined, await uploadedSize(opts.uploads, result.version.spec.snapshot)));
    },
  );

  app.get<{ Params: NameParams; Querystring: ListQuery }>(
    '/2015-03-31/functions/:name/versions',
    {
      config: { lambdaAction: 'lambda:ListVersionsByFunction' },
      schema: { summary: 'List versions, $LATEST first (Lambda ListVersionsByFunction)', tags: ['versions'], params: { type: 'object', properties: nameParam }, querystring: listQuery },
    },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      const [stored, versions] = await Promise.all([viaStore(opts.store.getFunction(name), `Function not found: ${arn}`), viaStore(opts.store.listVersions(name), `Function not found: ${arn}`)]);
      const all = [
        latestConfiguration(context(arn), stored, await uploadedSize(opts.uploads, stored.fn.spec)),
        ...(await Promise.all(versions.map(async (v) => versionConfiguration(context(arn), v, undefined, await uploadedSize(opts.uploads, v.spec.snapshot))))),
      ];
      return json(reply, 200, pageAnswer('Versions', all, req.query));
    },
  );

  app.post<{ Params: NameParams }>(
    '/2015-03-31/functions/:name/aliases',
    { config: { lambdaAction: 'lambda:CreateAlias' }, schema: { summary: 'Create an alias (Lambda CreateAlias)', tags: ['versions'], params: { type: 'object', properties: nameParam } } },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      const input = createAliasInput(jsonObjectBody(req.body, invalidBody));
      const alias = await viaStore(opts.store.putAlias(name, input, 'create'));
      return json(reply, 201, aliasConfiguration(arn, alias));
    },
  );

  app.get<{ Params: NameParams; Querystring: ListQuery & { FunctionVersion?: string } }>(
    '/2015-03-31/functions/:name/aliases',
    {
      config: { lambdaAction: 'lambda:ListAliases' },
      schema: {
        summary: 'List aliases (Lambda ListAliases)',
        tags: ['versions'],
        params: { type: 'object', properties: nameParam },
        querystring: { ...listQuery, properties: { ...listQuery.properties, FunctionVersion: { type: 'string', description: 'Only the aliases that send calls to this version' } } },
      },
    },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      const aliases = await viaStore(opts.store.listAliases(name), `Function not found: ${arn}`);
      const v = req.query.FunctionVersion;
      const chosen = v === undefined || v === '' ? aliases : aliases.filter((a) => sendsTo(a, v));
      return json(reply, 200, pageAnswer('Aliases', chosen.map((a) => aliasConfiguration(arn, a)), req.query));
    },
  );

  const aliasParams = { type: 'object', properties: { ...nameParam, alias: { type: 'string', description: 'Alias name' } } };

  app.get<{ Params: AliasParams }>(
    '/2015-03-31/functions/:name/aliases/:alias',
    { config: { lambdaAction: 'lambda:GetAlias' }, schema: { summary: 'Get an alias (Lambda GetAlias)', tags: ['versions'], params: aliasParams } },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      return json(reply, 200, aliasConfiguration(arn, await currentAlias(name, arn, req.params.alias)));
    },
  );

  app.put<{ Params: AliasParams }>(
    '/2015-03-31/functions/:name/aliases/:alias',
    { config: { lambdaAction: 'lambda:UpdateAlias' }, schema: { summary: 'Update an alias (Lambda UpdateAlias)', tags: ['versions'], params: aliasParams } },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      const body = jsonObjectBody(req.body, invalidBody);
      const current = await currentAlias(name, arn, req.params.alias);
      const revision = body.RevisionId;
      if (revision !== undefined && revision !== null && revision !== '' && revision !== aliasRevision(current)) {
        throw new LambdaError(412, 'PreconditionFailedException', `The RevisionId provided does not match the latest RevisionId for the alias ${arn}:${current.name}. Call GetAlias to retrieve the latest RevisionId.`);
      }
      const alias = await viaStore(opts.store.putAlias(name, updatedAliasInput(current, body), 'update'), `Alias not found: ${arn}:${req.params.alias}`);
      return json(reply, 200, aliasConfiguration(arn, alias));
    },
  );

  app.delete<{ Params: AliasParams }>(
    '/2015-03-31/functions/:name/aliases/:alias',
    { config: { lambdaAction: 'lambda:DeleteAlias' }, schema: { summary: 'Delete an alias (Lambda DeleteAlias)', tags: ['versions'], params: aliasParams } },
    async (req, reply) => {
      const { name, arn } = await functionOf(req.params.name, req.hearthCaller);
      await viaStore(opts.store.deleteAlias(name, req.params.alias), `Alias not found: ${arn}:${req.params.alias}`);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: NameParams; Querystring: { Qualifier?: string } }>(
    '/2015-03-31/functions/:name',
    {
      config: { lambdaAction: 'lambda:DeleteFunction' },
      schema: {
        summary: 'Delete a function with its versions, or one version with a Qualifier (Lambda DeleteFunction)',
        tags: ['functions'],
        params: { type: 'object', properties: nameParam },
        querystring: { type: 'object', properties: { Qualifier: { type: 'string', description: 'The version number to delete; without it the whole function goes' } } },
      },
    },
    async (req, reply) => {
      const { name, arn, qualifier: fromName } = namedFunction(req.params.name, home, opts.arn, req.hearthCaller, 'allow');
      // As the Invoke API reads it: from the name or ?Qualifier=, which must agree.
      const qualifier = resolveQualifier(fromName, req.query.Qualifier === '' ? undefined : req.query.Qualifier);
      if (qualifier === undefined) {
        // The store is the truth here (a function just created may not be in the catalog yet): its not-found is the 404.
        await viaStore(opts.store.deleteFunction(name), `Function not found: ${arn}`);
        return reply.code(204).send();
      }
      if (qualifier === LATEST) throw badParameter('$LATEST version cannot be deleted without deleting the function.');
      if (!VERSION_NUMBER.test(qualifier)) throw badParameter(`Deletion of aliases is not supported through DeleteFunction (${qualifier}): delete an alias with DeleteAlias`);
      await viaStore(opts.store.deleteVersion(name, qualifier), `Function not found: ${arn}:${qualifier}`);
      return reply.code(204).send();
    },
  );
};
