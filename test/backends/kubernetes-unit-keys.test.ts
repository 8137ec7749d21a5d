// Which serving unit an EndpointSlice's pods belong to: a version's Service
// carries the version labels (copied onto its slices by the EndpointSlice
// controller), $LATEST's Service is named for the function.
import { describe, expect, it } from 'vitest';
import { unitKeyOfSlice } from '../../src/backends/kubernetes/endpoints.js';

const slice = (labels: Record<string, string>) => ({ metadata: { name: 's', labels } });

describe('unitKeyOfSlice', () => {
  it.each<{ name: string; labels: Record<string, string>; key: string | undefined }>([
    { name: "$LATEST's Service: the function's name", labels: { 'kubernetes.io/service-name': 'orders', 'hearth.dev/function': 'orders' }, key: 'orders' },
    { name: "a version's Service: NAME:N", labels: { 'kubernetes.io/service-name': 'orders-v3', 'hearth.dev/version-of': 'orders', 'hearth.dev/version': '3' }, key: 'orders:3' },
    { name: 'a hashed object name still gives the function', labels: { 'kubernetes.io/service-name': 'a-very-long-name-3f2a1b-v12', 'hearth.dev/version-of': 'a-very-long-name-that-does-not-fit', 'hearth.dev/version': '12' }, key: 'a-very-long-name-that-does-not-fit:12' },
    { name: 'version-of without a version: by the Service name', labels: { 'kubernetes.io/service-name': 'orders-v3', 'hearth.dev/version-of': 'orders' }, key: 'orders-v3' },
    { name: 'an empty version: by the Service name', labels: { 'kubernetes.io/service-name': 'orders-v3', 'hearth.dev/version-of': 'orders', 'hearth.dev/version': '' }, key: 'orders-v3' },
    { name: 'no labels at all: none', labels: {}, key: undefined },
  ])('$name', ({ labels, key }) => {
    expect(unitKeyOfSlice(slice(labels))).toBe(key);
  });
});
