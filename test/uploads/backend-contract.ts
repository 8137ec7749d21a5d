// What every UploadBackend promises, run against each real store: bytes come
// back as put under their digest, their size is known without reading them,
// a second put of the same bytes is one object, an unknown digest is
// undefined, and what was put outlives the process (a new backend over the
// same store finds it).
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { sha256 } from '../../src/packages/digest.js';
import type { UploadBackend } from '../../src/uploads/uploads.js';

export interface BackendUnderTest {
  backend: () => UploadBackend;
  /** Restarts the store (or opens it again) and gives a backend over what it kept. */
  reopen: () => Promise<UploadBackend>;
}

export function backendContract(make: () => BackendUnderTest): void {
  it('gives back the bytes put under their digest, and undefined for a digest never put', async () => {
    const { backend } = make();
    const bytes = randomBytes(200_000);
    const digest = sha256(bytes);
    expect(await backend().get(digest)).toBeUndefined();
    await backend().put(digest, bytes);
    expect((await backend().get(digest))?.equals(bytes)).toBe(true);
    expect(await backend().get(sha256(randomBytes(8)))).toBeUndefined();
  });

  it('tells the size of what was put, and undefined for a digest never put', async () => {
    const { backend } = make();
    const bytes = randomBytes(123_457);
    const digest = sha256(bytes);
    expect(await backend().size(digest)).toBeUndefined();
    await backend().put(digest, bytes);
    expect(await backend().size(digest)).toBe(123_457);
    const empty = Buffer.alloc(0);
    await backend().put(sha256(empty), empty);
    expect(await backend().size(sha256(empty))).toBe(0);
  });

  it('takes the same bytes twice as one package', async () => {
    const { backend } = make();
    const bytes = Buffer.from(`same ${randomBytes(4).toString('hex')}`);
    const digest = sha256(bytes);
    await backend().put(digest, bytes);
    await backend().put(digest, bytes);
    expect((await backend().get(digest))?.equals(bytes)).toBe(true);
  });

  it('answers undefined for a name that is not a digest', async () => {
    const { backend } = make();
    for (const name of ['../../etc/passwd', 'A'.repeat(64), 'short', '']) {
      expect(await backend().get(name)).toBeUndefined();
      expect(await backend().size(name)).toBeUndefined();
    }
  });

  it('keeps what was put when the store restarts', async () => {
    const under = make();
    const bytes = randomBytes(4096);
    const digest = sha256(bytes);
    await under.backend().put(digest, bytes);
    const again = await under.reopen();
    expect((await again.get(digest))?.equals(bytes)).toBe(true);
    expect(await again.size(digest)).toBe(4096);
  });
}
