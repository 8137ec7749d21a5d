// The credentials file: who may call the gateway, with what secret, which
// functions, which actions, and how fast. One zod schema is the only description of the
// format; parsing turns a document into the caller table the plugin reads.
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../../api/validate.js';
import { isValidActionPattern } from './actions.js';
import { isValidPattern } from './function-patterns.js';

const SHA256_HEX = /^[a-f0-9]{64}$/;
// AWS access key ids are upper-case alphanumerics; test keys ('test') are lower-case too.
const ACCESS_KEY_ID = /^[A-Za-z0-9]{3,128}$/;

export const RateLimitSchema = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000).describe('Sustained requests per second.'),
  burst: z.number().int().min(1).max(1_000_000).optional().describe('Requests allowed at once (default: requestsPerSecond, at least 1).'),
});

export const CallerSchema = z
  .strictObject({
    name: z.string().min(1).max(128).regex(/^[A-Za-z0-9._@-]+$/, 'may hold only letters, digits, ., _, @ and -').describe('Who this is; appears in logs, never the secret.'),
    apiKey: z.string().min(16, 'must be at least 16 characters').max(4096).optional().describe('Key sent as Authorization: Bearer KEY or X-Api-Key: KEY.'),
    sha256: z.string().regex(SHA256_HEX, 'must be 64 lowercase hex digits').optional().describe('SHA-256 (hex) of the key, so the file need not hold it.'),
    accessKeyId: z.string().regex(ACCESS_KEY_ID, 'must be 3-128 letters and digits').optional().describe('AWS access key id for Signature Version 4.'),
    secretAccessKey: z.string().min(1).max(4096).optional().describe('AWS secret access key for Signature Version 4.'),
    functions: z
      .array(z.string().refine(isValidPattern, 'must be a function name, a prefix ending in *, or *'))
      .min(1)
      .describe('Functions this caller may touch: names, prefix-*, or *.'),
    actions: z
      .array(z.string().refine(isValidActionPattern, 'must be an IAM action of Lambda: lambda:NAME, lambda:PREFIX*, lambda:* or *'))
      .min(1)
      .max(1_000)
      .optional()
      .describe('Lambda actions this caller may perform on those functions (IAM names: lambda:InvokeFunction, lambda:Get*, lambda:*); default lambda:InvokeFunction and lambda:InvokeFunctionUrl.'),
    rateLimit: RateLimitSchema.optional(),
  })
  .refine((c) => !(c.apiKey !== undefined && c.sha256 !== undefined), { message: 'apiKey and sha256 are mutually exclusive', path: ['sha256'] })
  .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), { message: 'accessKeyId and secretAccessKey go together', path: ['secretAccessKey'] })
  .refine((c) => c.apiKey !== undefined || c.sha256 !== undefined || c.accessKeyId !== undefined, {
    message: 'needs apiKey, sha256, or accessKeyId with secretAccessKey',
    path: ['apiKey'],
  });

export const CredentialsFileSchema = z
  .strictObject({
    callers: z.array(CallerSchema).max(10_000),
  })
  .superRefine((file, ctx) => {
    const seen = { name: new Map<string, number>(), key: new Map<string, number>(), akid: new Map<string, number>() };
    file.callers.forEach((c, i) => {
      const dup = (kind: keyof typeof seen, value: string | undefined, field: string, what: string) => {
        if (value === undefined) return;
        const first = seen[kind].get(value);
        if (first !== undefined) ctx.addIssue({ code: 'custom', message: `${what} is already used by callers[${first}]`, path: ['callers', i, field] });
        else seen[kind].set(value, i);
      };
      dup('name', c.name, 'name', 'name');
      dup('key', c.sha256 ?? (c.apiKey !== undefined ? sha256Hex(c.apiKey) : undefined), c.sha256 !== undefined ? 'sha256' : 'apiKey', 'this key');
      dup('akid', c.accessKeyId, 'accessKeyId', 'accessKeyId');
    });
  });

export type CredentialsFile = z.infer<typeof CredentialsFileSchema>;
export type CallerEntry = z.infer<typeof CallerSchema>;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export class CredentialsError extends Error {
  constructor(
    message: string,
    readonly problems: Array<{ path: string; message: string }> = [],
  ) {
    super(problems.length > 0 ? `${message}: ${problems.map((p) => `${p.path || '(file)'} ${p.message}`).join('; ')}` : message);
    this.name = 'CredentialsError';
  }
}

/** Parses and validates a credentials document (YAML or JSON text). Messages name field paths, never values. */
export function parseCredentials(text: string): CredentialsFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // The YAML library quotes the offending line, which may hold a secret.
    throw new CredentialsError(`credentials are not YAML (${(err as { code?: string }).code ?? 'parse error'})`);
  }
  const parsed = CredentialsFileSchema.safeParse(doc ?? { callers: [] });
  if (!parsed.success) {
    throw new CredentialsError('invalid credentials', parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  }
  return parsed.data;
}
