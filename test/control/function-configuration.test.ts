// CodeSha256 and CodeSize in FunctionConfiguration: the code's own digest and
// bytes, the same for $LATEST and for a version running the same code (the
// version's snapshot digest, which covers its configuration too, is not
// Lambda's CodeSha256).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { codeDigest, latestConfiguration, versionConfiguration, type ConfigurationContext } from '../../src/control/function-configuration.js';
import type { StoredFunction } from '../../src/store/function-store.js';
import { functionOf, handVersion } from '../helpers/hand-versions.js';

const ctx: ConfigurationContext = { functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn', accountId: '000000000000', architecture: 'x86_64' };
const SHA = 'ab'.repeat(32);
const base64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const packaged: FunctionSpecInput = { runtime: 'python3.12', handler: 'app.handler', code: { package: { path: '/v/1/code.zip', sha256: SHA } } };
const inline: FunctionSpecInput = { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': 'export const handler = async () => 1;' } } };

function stored(spec: FunctionSpecInput): StoredFunction {
  return { fn: functionOf('fn', spec), revision: '1', observation: { served: true, current: true } };
}

describe('CodeSha256 and CodeSize', () => {
  it.each<[string, FunctionSpecInput, number | undefined, string, number]>([
    ['a package whose size Uploads told', packaged, 1234, base64(SHA), 1234],
    ['a package nobody measured', packaged, undefined, base64(SHA), 0],
    // Inline code's bytes are its files' names and texts, as the spec's inline limit counts them.
    ['inline code: its files\' bytes, whatever the caller says', inline, 99, createHash('sha256').update(JSON.stringify([['index.mjs', 'export const handler = async () => 1;']])).digest('base64'), 'index.mjs'.length + 37],
  ])('%s: $LATEST and a version running the same code answer the same', (_what, spec, known, sha, size) => {
    const latest = latestConfiguration(ctx, stored(spec), known);
    // Another memory size: the snapshot digest differs from the code's, CodeSha256 does not.
    const version = handVersion('fn', '3', { ...spec, memoryMB: 512 });
    expect(version.spec.codeSha256).not.toBe(codeDigest(version.spec.snapshot));
    const published = versionConfiguration(ctx, version, undefined, known);
    expect([latest.CodeSha256, latest.CodeSize]).toEqual([sha, size]);
    expect([published.CodeSha256, published.CodeSize, published.Version, published.FunctionArn]).toEqual([sha, size, '3', `${ctx.functionArn}:3`]);
  });

  it('a version\'s RevisionId still follows its snapshot: two versions of the same code have different ones', () => {
    const a = versionConfiguration(ctx, handVersion('fn', '1', packaged));
    const b = versionConfiguration(ctx, handVersion('fn', '2', { ...packaged, timeoutSeconds: 30 }));
    expect(a.CodeSha256).toBe(b.CodeSha256);
    expect(a.RevisionId).not.toBe(b.RevisionId);
  });
});
