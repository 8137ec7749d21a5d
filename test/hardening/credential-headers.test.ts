// Which headers a function URL event leaves out: Hearth's own credentials
// when the caller proved itself with them, nothing when authentication is off.
import { describe, expect, it } from 'vitest';
import { credentialHeaders, withoutCredentials, type PresentedCredential } from '../../src/gateway/auth/credential-headers.js';

const REQUEST = {
  host: 'gw:8080',
  authorization: 'Bearer k',
  'x-api-key': 'k',
  'x-amz-date': '20261206T104500Z',
  'x-amz-security-token': 't',
  'x-amz-content-sha256': 'e3b0',
  'x-amz-invocation-type': 'Event',
  'content-type': 'application/json',
  'x-app': ['a', 'b'],
};

describe('credential headers left out of a function URL event', () => {
  it.each<[PresentedCredential | undefined, string[]]>([
    [undefined, []],
    ['api-key', ['authorization', 'x-api-key']],
    ['sigv4', ['authorization', 'x-api-key', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']],
  ])('%s: leaves out %j', (presented, dropped) => {
    expect([...credentialHeaders(presented)].sort()).toEqual([...dropped].sort());
    const kept = withoutCredentials(REQUEST, presented);
    expect(Object.keys(kept).sort()).toEqual(Object.keys(REQUEST).filter((k) => !dropped.includes(k)).sort());
    // Headers that are the application's stay, whatever the scheme, values untouched.
    expect(kept).toMatchObject({ host: 'gw:8080', 'x-amz-invocation-type': 'Event', 'x-app': ['a', 'b'] });
  });

  it('matches names whatever their case', () => {
    expect(withoutCredentials({ Authorization: 'Bearer k', 'X-Api-Key': 'k', Accept: '*/*' }, 'api-key')).toEqual({ Accept: '*/*' });
  });
});
