import { describe, expect, it } from 'vitest';
import { endpointsOf, endpointState } from '../../src/backends/kubernetes/endpoints.js';

describe('endpointState', () => {
  it.each([
    [{ ready: true, serving: true, terminating: false }, 'ready'],
    [{}, 'ready'],
    [undefined, 'ready'],
    [{ ready: false, serving: false, terminating: false }, 'starting'],
    [{ ready: false, serving: true, terminating: true }, 'draining'],
  ] as const)('%j is %s', (conditions, state) => {
    expect(endpointState(conditions)).toBe(state);
  });
});

describe('endpointsOf', () => {
  it('merges slices, one record per pod, the more serviceable view winning', () => {
    const records = endpointsOf([
      { addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.2'], conditions: { ready: false }, targetRef: { name: 'b' } }, { addresses: ['10.1.0.1'], conditions: { ready: true }, targetRef: { name: 'a' } }] },
      { addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.2'], conditions: { ready: true }, targetRef: { name: 'b' } }, { addresses: [] }] },
      { addressType: 'FQDN', endpoints: [{ addresses: ['x.example'] }] },
    ]);
    expect(records).toEqual([
      { id: 'a', address: '10.1.0.1', state: 'ready' },
      { id: 'b', address: '10.1.0.2', state: 'ready' },
    ]);
  });
});
