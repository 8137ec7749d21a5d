// Lambda action patterns as the credentials file writes them (IAM names,
// `*` as any run of characters, case-insensitive), and a caller's list of
// them. Pure.
import { describe, expect, it } from 'vitest';
import { actionMatches, allowsAction, DEFAULT_ACTIONS, isValidActionPattern } from '../../src/gateway/auth/actions.js';
import { parseCredentials } from '../../src/gateway/auth/credentials.js';
import { CallerTable } from '../../src/gateway/auth/callers.js';

describe('actionMatches', () => {
  it.each<[string, string, boolean]>([
    ['*', 'lambda:CreateFunction', true],
    ['lambda:*', 'lambda:CreateFunction', true],
    ['lambda:*', 'lambda:InvokeFunction', true],
    ['lambda:InvokeFunction', 'lambda:InvokeFunction', true],
    ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl', false],
    ['lambda:InvokeFunction*', 'lambda:InvokeFunctionUrl', true],
    ['lambda:invokefunction', 'lambda:InvokeFunction', true],
    ['lambda:Get*', 'lambda:GetFunction', true],
    ['lambda:Get*', 'lambda:GetFunctionConfiguration', true],
    ['lambda:Get*', 'lambda:UpdateFunctionCode', false],
    ['lambda:Get*', 'lambda:ListFunctions', false],
    ['lambda:*Alias', 'lambda:CreateAlias', true],
    ['lambda:*Alias', 'lambda:ListAliases', false],
    ['lambda:List*', 'lambda:ListFunctions', true],
    ['lambda:Update*', 'lambda:UpdateFunctionCode', true],
    ['lambda:Update*', 'lambda:UpdateAlias', true],
    ['lambda:Delete*', 'lambda:DeleteFunction', true],
    ['lambda:PublishVersion', 'lambda:PublishVersions', false],
    ['lambda:Publish', 'lambda:PublishVersion', false],
  ])('%s matches %s: %s', (pattern, action, want) => {
    expect(actionMatches(pattern, action)).toBe(want);
  });
});

describe('allowsAction', () => {
  it.each<[string, readonly string[], string, boolean]>([
    ['the defaults invoke', DEFAULT_ACTIONS, 'lambda:InvokeFunction', true],
    ['the defaults call function URLs', DEFAULT_ACTIONS, 'lambda:InvokeFunctionUrl', true],
    ['the defaults do not publish', DEFAULT_ACTIONS, 'lambda:PublishVersion', false],
    ['the defaults do not create', DEFAULT_ACTIONS, 'lambda:CreateFunction', false],
    ['the defaults do not read configuration', DEFAULT_ACTIONS, 'lambda:GetFunction', false],
    ['readers read', ['lambda:Get*', 'lambda:List*'], 'lambda:ListVersionsByFunction', true],
    ['readers do not write', ['lambda:Get*', 'lambda:List*'], 'lambda:UpdateFunctionConfiguration', false],
    ['several exact names', ['lambda:PublishVersion', 'lambda:CreateAlias'], 'lambda:CreateAlias', true],
    ['no patterns allow nothing', [], 'lambda:InvokeFunction', false],
    // What a route without a declared action needs: only lambda:* or * allow it.
    ['lambda:* allows an undeclared route', ['lambda:*'], 'lambda:*', true],
    ['* allows an undeclared route', ['*'], 'lambda:*', true],
    ['a prefix does not allow an undeclared route', ['lambda:Get*'], 'lambda:*', false],
    ['the defaults do not allow an undeclared route', DEFAULT_ACTIONS, 'lambda:*', false],
  ])('%s', (_what, patterns, action, want) => {
    expect(allowsAction(patterns, action)).toBe(want);
  });
});

describe('action patterns in the credentials file', () => {
  it.each(['*', 'lambda:*', 'lambda:InvokeFunction', 'lambda:Get*', 'lambda:*Alias'])('accepts %s', (p) => {
    expect(isValidActionPattern(p)).toBe(true);
    expect(() => parseCredentials(JSON.stringify({ callers: [{ name: 'a', apiKey: '0123456789abcdef', functions: ['*'], actions: [p] }] }))).not.toThrow();
  });

  it.each(['', 'InvokeFunction', 's3:GetObject', 'lambda:', 'lambda:Invoke Function', 'lambda:Get?', 'lambda:*:x'])('refuses %j, naming the path', (p) => {
    expect(isValidActionPattern(p)).toBe(false);
    expect(() => parseCredentials(JSON.stringify({ callers: [{ name: 'a', apiKey: '0123456789abcdef', functions: ['*'], actions: [p] }] }))).toThrow(/callers\[0\]\.actions\[0\]/);
  });

  it('refuses an empty list, and gives a caller without actions the defaults', () => {
    expect(() => parseCredentials(JSON.stringify({ callers: [{ name: 'a', apiKey: '0123456789abcdef', functions: ['*'], actions: [] }] }))).toThrow(/callers\[0\]\.actions/);
    const table = new CallerTable(
      parseCredentials(
        JSON.stringify({
          callers: [
            { name: 'a', apiKey: 'a-key-0123456789abcdef', functions: ['*'] },
            { name: 'b', apiKey: 'b-key-0123456789abcdef', functions: ['*'], actions: ['lambda:*'] },
          ],
        }),
      ),
    );
    expect(table.byApiKey('a-key-0123456789abcdef')?.actions).toEqual(DEFAULT_ACTIONS);
    expect(table.byApiKey('b-key-0123456789abcdef')?.actions).toEqual(['lambda:*']);
  });
});
