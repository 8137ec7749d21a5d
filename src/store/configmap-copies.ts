// A published version must not change when a ConfigMap its code comes from
// is edited later, so the store copies every ConfigMap the code references
// (code.configMap, code.package.configMap, layers[].configMap) into an
// immutable ConfigMap of the version's own and the snapshot names the
// copies. Pure: which references there are, what each copy holds, the
// digest of the referenced bytes and the rewritten snapshot.
import { createHash } from 'node:crypto';
import type { FunctionSpec } from '../api/function.js';
import type { Problem } from '../api/validate.js';
import { snapshotDigest } from '../versions/snapshot.js';

/** One ConfigMap the code references. */
export interface ConfigMapRef {
  /** Field path of the reference's name, for problems: spec.code.configMap.name. */
  path: string;
  name: string;
  /** The one key a package or layer reads; undefined for code.configMap, whose every key is a file. */
  key?: string;
  /** A package or layer may be optional; code.configMap never is. */
  optional: boolean;
  /** The copy is named `<version object name>-<suffix>`: code, package, layer-<i>. */
  suffix: string;
}

/** The part of a ConfigMap a copy keeps, in wire form (binaryData base64). */
export interface ConfigMapContent {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export function configMapRefs(spec: FunctionSpec): ConfigMapRef[] {
  const refs: ConfigMapRef[] = [];
  if (spec.code.configMap !== undefined) refs.push({ path: 'spec.code.configMap.name', name: spec.code.configMap.name, optional: false, suffix: 'code' });
  const pkg = spec.code.package?.configMap;
  if (pkg !== undefined) refs.push({ path: 'spec.code.package.configMap.name', name: pkg.name, key: pkg.key, optional: pkg.optional === true, suffix: 'package' });
  (spec.layers ?? []).forEach((l, i) => {
    if (l.configMap !== undefined) refs.push({ path: `spec.layers[${i}].configMap.name`, name: l.configMap.name, key: l.configMap.key, optional: l.configMap.optional === true, suffix: `layer-${i}` });
  });
  return refs;
}

export function copyName(objectName: string, ref: ConfigMapRef): string {
  return `${objectName}-${ref.suffix}`;
}

/**
 * What the copy of `ref` holds, given the original (undefined when it does
 * not exist): every key for code, the one key for a package or layer.
 * Undefined when there is nothing to copy (an optional source that is
 * missing: the version keeps it missing). A required source that is
 * missing is a problem.
 */
export function copiedContent(ref: ConfigMapRef, original: ConfigMapContent | undefined): { content?: ConfigMapContent; problem?: Problem } {
  if (original === undefined) {
    return ref.optional ? {} : { problem: { path: ref.path, message: `ConfigMap ${ref.name} does not exist` } };
  }
  if (ref.key === undefined) {
    return { content: { ...(original.data !== undefined ? { data: original.data } : {}), ...(original.binaryData !== undefined ? { binaryData: original.binaryData } : {}) } };
  }
  const key = ref.key;
  if (original.binaryData?.[key] !== undefined) return { content: { binaryData: { [key]: original.binaryData[key] } } };
  if (original.data?.[key] !== undefined) return { content: { data: { [key]: original.data[key] } } };
  return ref.optional ? {} : { problem: { path: ref.path.replace(/\.name$/, '.key'), message: `ConfigMap ${ref.name} has no key ${key}` } };
}

/** Keys in order, so the same content always gives the same digest. */
function contentDigest(c: ConfigMapContent | undefined): string {
  if (c === undefined) return 'missing';
  const h = createHash('sha256');
  for (const [part, map] of [['data', c.data], ['binaryData', c.binaryData]] as const) {
    for (const k of Object.keys(map ?? {}).sort()) h.update(`${part}\0${k}\0${map?.[k] ?? ''}\0`);
  }
  return h.digest('hex');
}

/** The `extra` of snapshotDigest: what the referenced ConfigMaps hold, so an edited ConfigMap is a change. */
export function referencedBytes(refs: readonly ConfigMapRef[], contents: readonly (ConfigMapContent | undefined)[]): string {
  return refs.map((r, i) => `${r.suffix}:${contentDigest(contents[i])}`).join('\n');
}

/**
 * What publishing `snapshot` gives, from the originals of its references
 * (read in configMapRefs order, undefined where missing): the digest (of the
 * snapshot and the bytes it names), and what each reference's copy holds.
 * The store publishes with it and the controller's publishOnChange compares
 * with it, so the two cannot disagree about what is a change.
 */
export function publishedDigest(snapshot: FunctionSpec, originals: readonly (ConfigMapContent | undefined)[]): { digest: string; copies: (ConfigMapContent | undefined)[]; problems: Problem[] } {
  const refs = configMapRefs(snapshot);
  const results = refs.map((r, i) => copiedContent(r, originals[i]));
  const copies = results.map((c) => c.content);
  return { digest: snapshotDigest(snapshot, referencedBytes(refs, copies)), copies, problems: results.flatMap((c) => (c.problem !== undefined ? [c.problem] : [])) };
}

/** The snapshot naming the version's copies instead of the originals. */
export function withCopies(snapshot: FunctionSpec, objectName: string): FunctionSpec {
  const refs = configMapRefs(snapshot);
  if (refs.length === 0) return snapshot;
  const name = (suffix: string): string => `${objectName}-${suffix}`;
  const code = { ...snapshot.code };
  if (code.configMap !== undefined) code.configMap = { ...code.configMap, name: name('code') };
  if (code.package?.configMap !== undefined) code.package = { ...code.package, configMap: { ...code.package.configMap, name: name('package') } };
  const layers = snapshot.layers?.map((l, i) => (l.configMap !== undefined ? { ...l, configMap: { ...l.configMap, name: name(`layer-${i}`) } } : l));
  return { ...snapshot, code, ...(layers !== undefined ? { layers } : {}) };
}
