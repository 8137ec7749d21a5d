// Validation of Function documents, for `hearth validate`, the embedded
// platform's YAML files and the controller's deeper checks. Every problem
// names the field path it concerns, so a user can find it in the file.
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { FunctionSchema, type HearthFunction } from './function.js';

export interface Problem {
  /** Dotted path of the offending field, e.g. `spec.memoryMB`; empty for the whole document. */
  path: string;
  message: string;
}

export type ValidationResult = { ok: true; value: HearthFunction } | { ok: false; problems: Problem[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'number' || issue.origin === 'int'
        ? `must be at least ${String(issue.minimum)}`
        : `is too short or small (minimum ${String(issue.minimum)})`;
    case 'too_big':
      return issue.origin === 'number' || issue.origin === 'int'
        ? `must be at most ${String(issue.maximum)}`
        : `is too long or large (maximum ${String(issue.maximum)})`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be of type ${issue.expected}`;
    case 'unrecognized_keys':
      return `has unknown field(s) ${issue.keys.join(', ')}`;
    default:
      return issue.message;
  }
}

export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: describe(issue) }));
}

/** Problems in one line, as messages and conditions show them: `spec.memoryMB: must be at least 128; …`. */
export function describeProblems(problems: readonly Problem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
}

/** Validates one parsed document; never throws. */
export function validateFunction(doc: unknown): ValidationResult {
  const parsed = FunctionSchema.safeParse(doc);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problems: problemsOf(parsed.error) };
}

export interface DocumentResult {
  /** 0-based position of the document in its file. */
  index: number;
  name?: string;
  result: ValidationResult;
}

/** Far above any real Function file (inline code is capped at 512 KiB), far below what hurts the parser. */
export const MAX_YAML_BYTES = 4 * 1024 * 1024;
export const MAX_FLOW_NESTING = 256;

/**
 * The deepest nesting of flow collections ([ and {), counted without a
 * parser: deep enough nesting exhausts the YAML parser's memory, so it is
 * refused before parsing. Brackets inside block scalars count too, which
 * only makes the guard stricter for text no real file has.
 */
export function flowNesting(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return max;
}

/** One document of a YAML text: its parsed value, or why it could not be parsed. */
export type ParsedDocument = { index: number; value: unknown } | { index: number; problems: Problem[] };

/** Parses a multi-document YAML text, skipping empty documents; never throws. */
export function parseYamlDocuments(text: string): ParsedDocument[] {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) return [{ index: 0, problems: [{ path: '', message: `is larger than ${MAX_YAML_BYTES} bytes` }] }];
  if (flowNesting(text) > MAX_FLOW_NESTING) return [{ index: 0, problems: [{ path: '', message: `nests [ or { more than ${MAX_FLOW_NESTING} deep` }] }];
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    return [{ index: 0, problems: [{ path: '', message: `is not YAML: ${(err as Error).message}` }] }];
  }
  const out: ParsedDocument[] = [];
  (Array.isArray(docs) ? docs : [docs]).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      out.push({ index, problems: doc.errors.map((e) => ({ path: '', message: `is not valid YAML: ${e.message}` })) });
      return;
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push({ index, value }); // else an empty document between separators
  });
  return out;
}

/** Parses a multi-document YAML text and validates each Function in it; never throws. */
export function validateYaml(text: string): DocumentResult[] {
  return parseYamlDocuments(text).map((d) => {
    if ('problems' in d) return { index: d.index, result: { ok: false, problems: d.problems } };
    const name = nameOf(d.value);
    return { index: d.index, ...(name ? { name } : {}), result: validateFunction(d.value) };
  });
}

export function nameOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const md = (value as { metadata?: unknown }).metadata;
  if (typeof md !== 'object' || md === null) return undefined;
  const name = (md as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}
