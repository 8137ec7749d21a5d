// What `hearth deploy` publishes: the package sources of a Function that are
// local paths (code.package.path and layers[].path), read or built into ZIP
// bytes, and the Function rewritten to point at where they were published.
// The raw YAML object is rewritten, not the validated one, so defaults the
// user never wrote do not appear in the published Function.
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { FunctionSpec, HearthFunction, PackageSource } from '../api/function.js';
import { buildPackage } from './build.js';
import { checkAsPlatform } from './check.js';
import { sha256 } from './digest.js';
import { LAMBDA_LIMITS } from './limits.js';
import { readRegularFile } from './regular-file.js';

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
  // stat, not open: it does not block on a FIFO, and a directory is packaged rather than read.
  const st = await stat(src.path).catch(() => undefined);
  if (st === undefined) throw new Error(`${src.path} does not exist`);
  if (st.isDirectory()) {
    const built = await buildPackage(src.path);
    return { zip: built.zip, sha256: built.sha256 };
  }
  const zip = await readRegularFile(src.path, LAMBDA_LIMITS.zippedBytes);
  const digest = sha256(zip);
  if (src.sha256 !== undefined && src.sha256 !== digest) throw new Error(`${src.path} has SHA-256 ${digest}, but the Function says ${src.sha256}`);
  return { zip, sha256: digest };
}

/** A local source read into ZIP bytes. */
export interface ReadSource extends LocalSource {
  zip: Buffer;
  sha256: string;
}

/**
 * Reads every local package of a Function and checks them as the platform
 * will unpack them, so a package it would refuse is refused before upload.
 * Errors name the function and the field.
 */
export async function readAndCheckSources(fn: HearthFunction, baseDir: string): Promise<ReadSource[]> {
  const name = fn.metadata.name;
  const out: ReadSource[] = [];
  for (const src of localSources(fn.spec, baseDir)) {
    const pkg = await readLocalSource(src).catch((err: unknown) => {
      throw new Error(`${name}: ${slotName(src.slot)}: ${(err as Error).message}`, { cause: err });
    });
    out.push({ ...src, ...pkg });
  }
  await checkAsPlatform(out.map((s) => ({ where: `${name}: ${slotName(s.slot)}`, label: s.path, zip: s.zip, kind: s.slot.kind })));
  return out;
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
