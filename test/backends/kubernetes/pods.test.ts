// Decisions the gateway makes on pods: their serving unit (the same rule as
// their slices'), whether they may serve, and which idle pool pods a claim
// may take.
import { describe, expect, it } from 'vitest';
import { agentBaseUrl, claimablePods, isTerminating, orphanedClaim, pickRandom, podAddress, readyPredatesClaim, readySince, specializationFailed, unitKeyOfPod, type PodObject } from '../../../src/backends/kubernetes/pods.js';

const pod = (name: string, over: { labels?: Record<string, string>; ip?: string; ready?: boolean; deleting?: boolean; phase?: string; rv?: string | null } = {}): PodObject => ({
  metadata: {
    name,
    ...(over.rv !== null ? { resourceVersion: over.rv ?? '7' } : {}),
    labels: over.labels ?? { 'hearth.dev/pool': 'python', 'hearth.dev/pool-runtime': 'python', 'app.kubernetes.io/managed-by': 'hearth' },
    ...(over.deleting === true ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
  },
  status: {
    phase: over.phase ?? 'Running',
    ...(over.ip !== '' ? { podIP: over.ip ?? '10.0.0.1' } : {}),
    conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True' }],
  },
});

describe('unitKeyOfPod', () => {
  it.each<{ name: string; labels: Record<string, string>; key: string | undefined }>([
    { name: "$LATEST's pod: hearth.dev/function", labels: { 'hearth.dev/function': 'orders', 'app.kubernetes.io/name': 'orders' }, key: 'orders' },
    { name: "a version's pod: NAME:N", labels: { 'hearth.dev/version-of': 'orders', 'hearth.dev/version': '3' }, key: 'orders:3' },
    { name: 'version-of without a version: by hearth.dev/function', labels: { 'hearth.dev/version-of': 'orders', 'hearth.dev/function': 'orders' }, key: 'orders' },
    { name: 'an idle pool pod runs no unit', labels: { 'hearth.dev/pool': 'python', 'app.kubernetes.io/managed-by': 'hearth' }, key: undefined },
    { name: 'an empty function label: none', labels: { 'hearth.dev/function': '' }, key: undefined },
  ])('$name', ({ labels, key }) => {
    expect(unitKeyOfPod({ metadata: { labels } })).toBe(key);
  });
});

describe('podAddress and isTerminating', () => {
  it.each<{ name: string; p: PodObject; address: string | undefined; terminating: boolean }>([
    { name: 'a running pod with an IP', p: pod('a'), address: '10.0.0.1', terminating: false },
    { name: 'no IP yet', p: pod('a', { ip: '' }), address: undefined, terminating: false },
    { name: 'being deleted', p: pod('a', { deleting: true }), address: undefined, terminating: true },
    { name: 'ended (Failed)', p: pod('a', { phase: 'Failed' }), address: undefined, terminating: false },
    { name: 'ended (Succeeded)', p: pod('a', { phase: 'Succeeded' }), address: undefined, terminating: false },
    { name: 'a null deletionTimestamp is none', p: { metadata: { deletionTimestamp: null }, status: { podIP: '10.0.0.2' } }, address: '10.0.0.2', terminating: false },
  ])('$name', ({ p, address, terminating }) => {
    expect(podAddress(p)).toBe(address);
    expect(isTerminating(p)).toBe(terminating);
  });
});

describe('claimablePods', () => {
  it.each<{ name: string; p: PodObject; claimable: boolean }>([
    { name: 'a Ready idle pod of the pool with an IP', p: pod('a'), claimable: true },
    { name: 'not Ready (its runtime is not waiting yet)', p: pod('a', { ready: false }), claimable: false },
    { name: 'no IP', p: pod('a', { ip: '' }), claimable: false },
    { name: 'being deleted', p: pod('a', { deleting: true }), claimable: false },
    { name: 'another pool', p: pod('a', { labels: { 'hearth.dev/pool': 'nodejs' } }), claimable: false },
    { name: 'claimed already (no pool label)', p: pod('a', { labels: { 'hearth.dev/claimed': 'true', 'hearth.dev/function': 'f' } }), claimable: false },
    { name: 'no resourceVersion for the precondition', p: pod('a', { rv: null }), claimable: false },
    { name: 'excluded (this gateway is claiming it)', p: pod('taken'), claimable: false },
  ])('$name', ({ p, claimable }) => {
    expect(claimablePods([p], 'python', new Set(['taken'])).length).toBe(claimable ? 1 : 0);
  });

  it('keeps every claimable pod, in order', () => {
    const pods = [pod('a'), pod('b', { ready: false }), pod('c')];
    expect(claimablePods(pods, 'python').map((p) => p.metadata?.name)).toEqual(['a', 'c']);
  });
});

describe('pickRandom', () => {
  it.each([
    { random: 0, picked: 'a' },
    { random: 0.5, picked: 'b' },
    { random: 0.999, picked: 'c' },
    // A random source that returns 1 (outside [0, 1)) still picks one.
    { random: 1, picked: 'c' },
  ])('random $random picks $picked', ({ random, picked }) => {
    expect(pickRandom(['a', 'b', 'c'], () => random)).toBe(picked);
  });

  it('picks nothing from nothing', () => {
    expect(pickRandom([], () => 0)).toBeUndefined();
  });
});

describe('agentBaseUrl', () => {
  it.each([
    { address: '10.0.0.1', url: 'http://10.0.0.1:9000' },
    { address: 'fd00::1', url: 'http://[fd00::1]:9000' },
  ])('$address', ({ address, url }) => {
    expect(agentBaseUrl(address, 9000)).toBe(url);
  });
});

describe('readySince', () => {
  it.each<{ name: string; conditions: { type?: string; status?: string; lastTransitionTime?: string }[]; want: number | undefined }>([
    { name: 'Ready: its transition time', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-06T10:00:00Z' }], want: Date.parse('2026-12-06T10:00:00Z') },
    { name: 'not Ready', conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2026-12-06T10:00:00Z' }], want: undefined },
    { name: 'Ready without a time', conditions: [{ type: 'Ready', status: 'True' }], want: undefined },
    { name: 'another condition only', conditions: [{ type: 'ContainersReady', status: 'True', lastTransitionTime: '2026-12-06T10:00:00Z' }], want: undefined },
    { name: 'an unreadable time', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: 'yesterday' }], want: undefined },
  ])('$name', ({ conditions, want }) => {
    expect(readySince({ status: { conditions } })).toBe(want);
  });
});

describe('readyPredatesClaim', () => {
  const claimed = (claimedAt: string | undefined, ready: { status: string; lastTransitionTime?: string } | undefined, labels: Record<string, string> = { 'hearth.dev/claimed': 'true' }): PodObject => ({
    metadata: { labels, annotations: claimedAt !== undefined ? { 'hearth.dev/claimed-at': claimedAt } : {} },
    status: { conditions: ready !== undefined ? [{ type: 'Ready', ...ready }] : [] },
  });
  it.each<{ name: string; p: PodObject; stale: boolean }>([
    { name: 'Ready since before the claim: the idle agent\'s', p: claimed('2026-12-06T10:00:05.500Z', { status: 'True', lastTransitionTime: '2026-12-06T09:59:00Z' }), stale: true },
    { name: 'Ready since after the claim: the function\'s', p: claimed('2026-12-06T10:00:05.500Z', { status: 'True', lastTransitionTime: '2026-12-06T10:00:07Z' }), stale: false },
    { name: 'Ready within the claim\'s second (truncated time)', p: claimed('2026-12-06T10:00:05.500Z', { status: 'True', lastTransitionTime: '2026-12-06T10:00:05Z' }), stale: false },
    { name: 'Ready without a time', p: claimed('2026-12-06T10:00:05.500Z', { status: 'True' }), stale: true },
    { name: 'Ready, no claim time', p: claimed(undefined, { status: 'True', lastTransitionTime: '2026-12-06T10:00:07Z' }), stale: true },
    { name: 'not Ready: its slice says so itself', p: claimed('2026-12-06T10:00:05.500Z', { status: 'False', lastTransitionTime: '2026-12-06T10:00:06Z' }), stale: false },
    { name: 'not claimed: a Deployment\'s pod', p: claimed(undefined, { status: 'True' }, { 'hearth.dev/function': 'f' }), stale: false },
  ])('$name', ({ p, stale }) => {
    expect(readyPredatesClaim(p)).toBe(stale);
  });
});

describe('specializationFailed', () => {
  it.each([
    { hash: 'failed', failed: true },
    { hash: 'abc123', failed: false },
    { hash: undefined, failed: false },
  ])('spec hash $hash', ({ hash, failed }) => {
    expect(specializationFailed({ metadata: { annotations: hash !== undefined ? { 'hearth.dev/instance-spec-hash': hash } : {} } })).toBe(failed);
  });
});

describe('orphanedClaim', () => {
  const now = Date.parse('2026-12-06T10:10:00Z');
  const p = (o: { claimed?: boolean; at?: string; hash?: string; deleting?: boolean }): PodObject => ({
    metadata: {
      labels: o.claimed === false ? { 'hearth.dev/pool': 'python' } : { 'hearth.dev/claimed': 'true', 'hearth.dev/function': 'f' },
      annotations: { ...(o.at !== undefined ? { 'hearth.dev/claimed-at': o.at } : {}), ...(o.hash !== undefined ? { 'hearth.dev/instance-spec-hash': o.hash } : {}) },
      ...(o.deleting === true ? { deletionTimestamp: '2026-12-06T10:09:00Z' } : {}),
    },
  });
  it.each<{ name: string; pod: PodObject; orphaned: boolean }>([
    { name: 'claimed 2 minutes ago, still idle: orphaned', pod: p({ at: '2026-12-06T10:08:00Z', hash: 'abc' }), orphaned: true },
    { name: 'claimed 30 s ago: its specialisation may still come', pod: p({ at: '2026-12-06T10:09:30Z', hash: 'abc' }), orphaned: false },
    { name: 'already marked failed', pod: p({ at: '2026-12-06T10:08:00Z', hash: 'failed' }), orphaned: false },
    { name: 'being deleted', pod: p({ at: '2026-12-06T10:08:00Z', hash: 'abc', deleting: true }), orphaned: false },
    { name: 'no claim time', pod: p({ hash: 'abc' }), orphaned: false },
    { name: 'not claimed (an idle pool pod)', pod: p({ claimed: false, at: '2026-12-06T10:08:00Z' }), orphaned: false },
  ])('$name', ({ pod, orphaned }) => {
    expect(orphanedClaim(pod, now, 75_000)).toBe(orphaned);
  });
});
