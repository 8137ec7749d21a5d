// Published versions and aliases set on a platform's catalog by hand, for
// tests of the paths that invoke them (qualifiers, executed versions)
// without the version stores.
import { createHash } from 'node:crypto';
import type { MemoryCatalog } from '../../src/api/catalog.js';
import { API_VERSION, FunctionSpecSchema, type AliasInput, type FunctionSpecInput, AliasSchema } from '../../src/api/function.js';
import { FunctionVersionSchema, VERSION_KIND, type FunctionVersion } from '../../src/api/function-version.js';

export function handVersion(name: string, version: string, spec: FunctionSpecInput): FunctionVersion {
  const snapshot = FunctionSpecSchema.parse(spec);
  return FunctionVersionSchema.parse({
    apiVersion: API_VERSION,
    kind: VERSION_KIND,
    metadata: { name: `${name}-v${version}` },
    spec: { function: name, version, codeSha256: createHash('sha256').update(JSON.stringify(snapshot)).digest('hex'), snapshot },
  });
}

/** Sets the function's published versions (number → what it runs) and its aliases; the function must be in the catalog already. */
export function setHandVersions(catalog: MemoryCatalog, name: string, versions: Record<string, FunctionSpecInput>, aliases: AliasInput[]): void {
  const fn = catalog.get(name);
  if (!fn) throw new Error(`no function ${name} in the catalog`);
  catalog.setVersions(name, Object.entries(versions).map(([n, spec]) => handVersion(name, n, spec)));
  catalog.set({ ...fn, spec: { ...fn.spec, aliases: aliases.map((a) => AliasSchema.parse(a)) } });
}
