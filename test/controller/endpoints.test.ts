import { describe, expect, it } from 'vitest';
import { endpointsOf, endpointState } from '../../src/backends/kubernetes/endpoints.js';

describe('endpointState', () => {
  it.each([
    [{ ready: true, serving: true, terminating: false }, 'ready'],
    [{}, 'ready'],
    [undefined, 'ready'],
    [{ ready: false, serving: false, terminating: false }, 'starting'],
    // A pod being deleted that still passes readiness: it drains, and is never chosen.
    [{ ready: false, serving: true, terminating: true }, 'draining'],
    [{ ready: false, serving: false, terminating: true }, 'draining'],
    [{ ready: true, serving: true, terminating: true }, 'draining'],
    [{ terminating: true }, 'draining'],
    // serving says readiness whatever ready says; unset, it defers to ready.
    [{ ready: true, serving: false }, 'starting'],
    [{ serving: false }, 'starting'],
    [{ ready: false }, 'starting'],
    [{ ready: false, serving: null }, 'starting'],
    [{ ready: null, serving: null, terminating: null }, 'ready'],
    [{ ready: true, terminating: false }, 'ready'],
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
      { id: 'a', address: '10.1.0.1', state: 'ready', pod: 'a' },
      { id: 'b', address: '10.1.0.2', state: 'ready', pod: 'b' },
    ]);
  });

  it('takes a pod as draining when any view of it says it is terminating (it never comes back)', () => {
    const ready = { addresses: ['10.1.0.3'], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', name: 'c' } };
    const leaving = { addresses: ['10.1.0.3'], conditions: { ready: false, serving: true, terminating: true }, targetRef: { kind: 'Pod', name: 'c' } };
    expect(endpointsOf([{ endpoints: [ready] }, { endpoints: [leaving] }])).toEqual([{ id: 'c', address: '10.1.0.3', state: 'draining', pod: 'c' }]);
    expect(endpointsOf([{ endpoints: [leaving] }, { endpoints: [ready] }])).toEqual([{ id: 'c', address: '10.1.0.3', state: 'draining', pod: 'c' }]);
  });

  it('names no pod for an endpoint without a Pod behind it', () => {
    expect(endpointsOf([{ endpoints: [{ addresses: ['10.1.0.4'] }, { addresses: ['10.1.0.5'], targetRef: { kind: 'Node', name: 'n1' } }] }])).toEqual([
      { id: '10.1.0.4', address: '10.1.0.4', state: 'ready' },
      { id: 'n1', address: '10.1.0.5', state: 'ready' },
    ]);
  });
});
