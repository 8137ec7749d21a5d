// Writing a Function's spec back into the YAML file it came from, as a
// person would: only the fields that changed are rewritten, so comments on
// the others, the other documents of the file and their formatting stay.
// Also the text of a new Function file, and a file without one of its
// Functions. Pure.
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, isSeq, parseAllDocuments, stringify, type Document } from 'yaml';
import { API_VERSION, KIND, type FunctionSpecInput } from '../api/function.js';

export type FunctionFileResult = { ok: true; text: string } | { ok: false; reason: string };

export function isFunctionNamed(doc: Document.Parsed, name: string): boolean {
  if (doc.errors.length > 0) return false;
  const kind = doc.get('kind');
  const meta = doc.get('metadata');
  return kind === KIND && isMap(meta) && meta.get('name') === name;
}

/** The parsed documents of `text` and the index of Function `name` among them (-1 when absent). */
export function locateFunction(text: string, name: string): { docs: Document.Parsed[]; at: number } {
  const parsed = parseAllDocuments(text);
  const docs = Array.isArray(parsed) ? parsed : [];
  return { docs, at: docs.findIndex((d) => isFunctionNamed(d, name)) };
}

/** The text with document `at` replaced by `doc` as it is now. The first document also owns the comments above it, which its text repeats. */
export function spliceDocument(text: string, doc: Document.Parsed, at: number): string {
  const start = at === 0 ? 0 : doc.range[0];
  return text.slice(0, start) + doc.toString() + text.slice(doc.range[2]);
}

/** A new file holding one Function: the spec exactly as given, without the schema's defaults. */
export function newFunctionText(name: string, spec: FunctionSpecInput, labels?: Record<string, string>): string {
  const metadata = { name, ...(labels !== undefined && Object.keys(labels).length > 0 ? { labels } : {}) };
  return stringify({ apiVersion: API_VERSION, kind: KIND, metadata, spec });
}

/** The spec of Function `name` as the file writes it (no defaults filled in); undefined if the file holds no well-formed Function of that name. */
export function specAsWritten(text: string, name: string): FunctionSpecInput | undefined {
  const { docs, at } = locateFunction(text, name);
  const js: unknown = docs[at]?.toJS();
  const spec = isRecord(js) ? js['spec'] : undefined;
  return isRecord(spec) ? (spec as FunctionSpecInput) : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function keyOf(key: unknown): unknown {
  return isScalar(key) ? key.value : key;
}

/**
 * Makes the node at `path` hold `next`, touching as little as it can (mapping-file.ts edits EventSourceMappings with it too):
 * mappings and lists are walked into, a scalar keeps its node (so its
 * comment and quoting style stay), and only a changed shape is replaced.
 */
export function assign(doc: Document.Parsed, path: (string | number)[], next: unknown): void {
  const node: unknown = doc.getIn(path, true);
  if (isMap(node) && isRecord(next)) {
    for (const pair of [...node.items]) {
      const key = keyOf(pair.key);
      if (typeof key === 'string' && next[key] === undefined) doc.deleteIn([...path, key]);
    }
    for (const [k, v] of Object.entries(next)) if (v !== undefined) assign(doc, [...path, k], v);
    return;
  }
  if (isSeq(node) && Array.isArray(next)) {
    for (let i = node.items.length - 1; i >= next.length; i--) doc.deleteIn([...path, i]);
    next.forEach((v, i) => {
      if (i < node.items.length) assign(doc, [...path, i], v);
      else node.items.push(doc.createNode(v));
    });
    return;
  }
  if (isScalar(node)) {
    if (isDeepStrictEqual(node.value, next)) return;
    if (next === null || ['string', 'number', 'boolean'].includes(typeof next)) {
      node.value = next;
      return;
    }
  }
  doc.setIn(path, doc.createNode(next));
}

/** The text with the spec of Function `name` made `spec`, field by field (see assign). */
export function editSpecInText(text: string, name: string, spec: FunctionSpecInput): FunctionFileResult {
  const { docs, at } = locateFunction(text, name);
  const doc = docs[at];
  if (doc === undefined) return { ok: false, reason: `the file holds no well-formed Function named ${name}` };
  if (!isMap(doc.get('spec', true))) doc.set('spec', doc.createNode({}));
  assign(doc, ['spec'], JSON.parse(JSON.stringify(spec)) as unknown);
  return { ok: true, text: spliceDocument(text, doc, at) };
}

/** The text without Function `name`'s document; `empty` when nothing else is left in the file (it can go). */
export function removeFunctionFromText(text: string, name: string): FunctionFileResult & { empty?: boolean } {
  const { docs, at } = locateFunction(text, name);
  const doc = docs[at];
  if (doc === undefined) return { ok: false, reason: `the file holds no well-formed Function named ${name}` };
  const others = docs.filter((d, i) => i !== at && (d.errors.length > 0 || (d.contents !== null && d.toJS() !== null)));
  if (others.length === 0) return { ok: true, text: '', empty: true };
  // The first document's comments above it go with it; a later one's range starts at its `---`.
  const start = at === 0 ? 0 : doc.range[0];
  return { ok: true, text: text.slice(0, start) + text.slice(doc.range[2]) };
}
