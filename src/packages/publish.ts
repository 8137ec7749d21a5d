// What `hearth deploy` publishes: the package sources of a Function that are
// local paths (code.package.path and layers[].path), read or built into ZIP
// bytes, and the Function rewritten to point at where they were published.
// The raw YAML object is rewritten, not the validated one, so defaults the
// user never wrote do not appear in the published Function.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { FunctionSpec, PackageSource } from '../api/function.js';
import { buildPackage } from './build.js';
import { sha256 } from './digest.js';
import { LAMBDA_LIMITS } from './limits.js';

/** Where a source sits in the spec: the code, or the layer at an index. */
export type SourceSlot = { kind: 'code' } | { kind: 'layer'; index: number };

export interface LocalSource {
  slot: SourceSlot;
  /** Absolute path of a ZIP file or of a directory to package. */
  path: string;
  sha256?: string;
}

export function localSources(spec: FunctionSpec, baseDir: string): LocalSource[] {
  const out: LocalSource[] = [];
  const add = (slot: SourceSlot, src: PackageSource | undefined): void => {
    if (src?.path === undefined) return;
    out.push({ slot, path: isAbsolute(src.path) ? src.path : resolve(baseDir, src.path), ...(src.sha256 !== undefined ? { sha256: src.sha256 } : {}) });
  };
  add({ kind: 'code' }, spec.code.package);
  (spec.layers ?? []).forEach((l, index) => add({ kind: 'layer', index }, l));
  return out;
}

export async function readLocalSource(src: LocalSource): Promise<{ zip: Buffer; sha256: string }> {
  const st = await stat(src.path).catch(() => undefined);
  if (st === undefined) throw new Error(`${src.path} does not exist`);
  if (st.isDirectory()) {
    const built = await buildPackage(src.path);
    return { zip: built.zip, sha256: built.sha256 };
  }
  if (st.size > LAMBDA_LIMITS.zippedBytes) throw new Error(`${src.path} is ${st.size} bytes; the limit is ${LAMBDA_LIMITS.zippedBytes} bytes zipped`);
  const zip = await readFile(src.path);
  const digest = sha256(zip);
  if (src.sha256 !== undefined && src.sha256 !== digest) throw new Error(`${src.path} has SHA-256 ${digest}, but the Function says ${src.sha256}`);
  return { zip, sha256: digest };
}

type Raw = Record<string, unknown>;

function obj(v: unknown): Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {};
}

/** A copy of the raw Function document with the source in `slot` replaced. */
export function replaceSource(doc: unknown, slot: SourceSlot, source: PackageSource): Raw {
  const copy = structuredClone(obj(doc));
  const spec = obj(copy.spec);
  copy.spec = spec;
  if (slot.kind === 'code') {
    spec.code = { package: { ...source } };
  } else {
    const layers = Array.isArray(spec.layers) ? [...(spec.layers as unknown[])] : [];
    layers[slot.index] = { ...source };
    spec.layers = layers;
  }
  return copy;
}

export function slotName(slot: SourceSlot): string {
  return slot.kind === 'code' ? 'code.package' : `layers[${slot.index}]`;
}
