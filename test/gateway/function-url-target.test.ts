import { describe, expect, it } from 'vitest';
import { functionUrlTarget } from '../../src/gateway/function-url-target.js';

describe('what a function URL names', () => {
  it.each<[string, ReturnType<typeof functionUrlTarget>]>([
    ['hello', { ok: true, name: 'hello' }],
    ['hello:live', { ok: true, name: 'hello', qualifier: 'live' }],
    ['hello:blue_green-2', { ok: true, name: 'hello', qualifier: 'blue_green-2' }],
    ['hello:$LATEST', { ok: true, name: 'hello', qualifier: '$LATEST' }],
    // Lambda gives URLs to $LATEST and aliases only.
    ['hello:3', { ok: false, name: 'hello', message: 'Function not found: hello:3' }],
    ['hello:007', { ok: false, name: 'hello', message: 'Function not found: hello:007' }],
    ['hello:', { ok: false, name: 'hello', message: 'Function not found: hello:' }],
    ['hello:live:2', { ok: false, name: 'hello', message: 'Function not found: hello:live:2' }],
    ['hello:$latest', { ok: false, name: 'hello', message: 'Function not found: hello:$latest' }],
    ['hello:a b', { ok: false, name: 'hello', message: 'Function not found: hello:a b' }],
  ])('%s', (raw, expected) => {
    expect(functionUrlTarget(raw)).toEqual(expected);
  });
});
