// A package source on a command line: a path or an http(s) URL, with the
// expected digest as a `#sha256=HEX` suffix (the convention pip uses), e.g.
//   /hearth/sources/code/package.zip#sha256=9f86d0…
//   https://example.com/layer.zip#sha256=9f86d0…
import type { PackageSource } from '../api/function.js';

const SUFFIX = /#sha256=([a-fA-F0-9]{64})$/;

export function parseSourceRef(ref: string): PackageSource {
  const m = SUFFIX.exec(ref);
  const sha256 = m?.[1]?.toLowerCase();
  const where = m ? ref.slice(0, m.index) : ref;
  if (where === '') throw new Error(`empty package source: ${ref}`);
  if (/^https?:\/\//i.test(where)) {
    if (sha256 === undefined) throw new Error(`${where}: a URL needs its digest, as URL#sha256=HEX`);
    return { url: where, sha256 };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(where)) throw new Error(`${where}: only paths and http(s) URLs are package sources`);
  return sha256 !== undefined ? { path: where, sha256 } : { path: where };
}

export function formatSourceRef(where: string, sha256: string | undefined): string {
  return sha256 !== undefined ? `${where}#sha256=${sha256}` : where;
}
