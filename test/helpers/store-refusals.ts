// What every FunctionStore test (directory and Kubernetes) asks of a write
// the store must refuse: a StoreError of the expected kind, nothing else.
import { expect } from 'vitest';
import { StoreError, type StoreErrorKind } from '../../src/store/function-store.js';

/** The StoreError `p` rejects with, after checking it is one and of `kind`. */
export async function refused(p: Promise<unknown>, kind: StoreErrorKind): Promise<StoreError> {
  const err = await p.then(
    () => new Error('expected a StoreError, got success'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).kind, (err as Error).message).toBe(kind);
  return err as StoreError;
}
