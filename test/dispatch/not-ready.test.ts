import { describe, expect, it } from 'vitest';
import { waitTimedOut, withoutServerPaths, type WaitState, type WaitVerdict } from '../../src/dispatch/not-ready.js';

describe('waitTimedOut', () => {
  const rows: Array<[string, Omit<WaitState, 'functionName'>, WaitVerdict]> = [
    ['ready instances all busy', { preparing: undefined, ready: 3 }, { kind: 'throttled' }],
    ['no instance, nothing being prepared (capacity never came)', { preparing: undefined, ready: 0 }, { kind: 'throttled' }],
    ['code still being prepared, no instance ready', { preparing: 'building Go sources', ready: 0 }, { kind: 'unavailable', message: 'function f is being prepared (building Go sources); retry once it is ready' }],
    ['a new version being prepared while the old one serves, all busy', { preparing: 'building Go sources', ready: 2 }, { kind: 'throttled' }],
  ];
  it.each(rows)('%s', (_what, state, verdict) => {
    expect(waitTimedOut({ functionName: 'f', ...state })).toEqual(verdict);
  });
});

describe('withoutServerPaths', () => {
  it.each([
    ['function f: code.package: package refused (not-a-zip): /tmp/hearth-fns-x1/f.zip is not a ZIP file', 'function f: code.package: package refused (not-a-zip): f.zip is not a ZIP file'],
    ['function g: go build failed: /home/u/.cache/hearth/local/go/1a2b/main.go:3:1: syntax error', 'function g: go build failed: main.go:3:1: syntax error'],
    ['/srv/functions/pipe.zip is a FIFO, not a regular file', 'pipe.zip is a FIFO, not a regular file'],
    ['(at /a/b/c.txt, then /d/e)', '(at c.txt, then e)'],
    // Not server paths: kept as they are.
    ['https://example.com/pkgs/a.zip: HTTP 404', 'https://example.com/pkgs/a.zip: HTTP 404'],
    ['entry "/etc/passwd" is an absolute path', 'entry "/etc/passwd" is an absolute path'],
    ['layers under /opt and src/app.py', 'layers under /opt and src/app.py'],
    ['ConfigMap code key app.zip: no such key', 'ConfigMap code key app.zip: no such key'],
  ])('%j', (input, output) => {
    expect(withoutServerPaths(input)).toBe(output);
  });
});
