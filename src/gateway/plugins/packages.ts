// GET /packages/SHA256: the bytes of a package uploaded through the
// control-plane API (CreateFunction's and UpdateFunctionCode's ZipFile). Its
// signature is its authorisation, as a presigned S3 URL's is: the query's
// `expires` and `signature` (src/uploads/signed-url.ts) must hold, or the
// answer is 403 whether or not the package exists; a signed URL for a digest
// no store holds is 404. Who may read the Function gets such a URL from
// GetFunction's Code.Location; a Function's own package.url carries one that
// never expires, so the controller's agents fetch it without credentials.
import type { FastifyPluginAsync } from 'fastify';
import type { Uploads } from '../../uploads/uploads.js';
import { LambdaError } from '../lambda-errors.js';
import { sendLambdaError, toLambdaError } from '../reply-error.js';

export interface PackagesRouteOptions {
  uploads: Pick<Uploads, 'read' | 'grants'>;
  now?: () => number;
}

/** The route's path as fastify names it (route-target.ts's SIGNED_ROUTES: the auth plugin leaves it to its signature). */
export const PACKAGES_ROUTE = '/packages/:sha256';

type Route = { Params: { sha256: string }; Querystring: { expires?: string; signature?: string } };

const packages: FastifyPluginAsync<PackagesRouteOptions> = async (app, opts) => {
  const now = opts.now ?? Date.now;
  app.get<Route>(
    PACKAGES_ROUTE,
    {
      schema: {
        summary: 'Download an uploaded deployment package (a signed URL, as GetFunction Code.Location gives)',
        tags: ['packages'],
        params: { type: 'object', properties: { sha256: { type: 'string', description: 'SHA-256 of the ZIP, hex' } } },
        querystring: {
          type: 'object',
          properties: { expires: { type: 'string', description: 'Unix seconds; 0: never' }, signature: { type: 'string', description: 'HMAC-SHA256, hex' } },
        },
      },
    },
    async (req, reply) => {
      try {
        const sha = req.params.sha256;
        if (!opts.uploads.grants(sha, req.query, now())) {
          throw new LambdaError(403, 'AccessDeniedException', 'The package URL is not signed, or its signature is invalid or expired.');
        }
        const bytes = await opts.uploads.read(sha);
        if (bytes === undefined) throw new LambdaError(404, 'ResourceNotFoundException', `No uploaded package has SHA-256 ${sha}.`);
        return reply
          .code(200)
          .header('content-type', 'application/zip')
          .header('cache-control', 'private, max-age=0')
          .header('x-amz-meta-sha256', sha)
          .send(bytes);
      } catch (err) {
        return sendLambdaError(reply, toLambdaError(err));
      }
    },
  );
};

export default packages;
