// Lambda's event filtering for event-source mappings: a mapping's
// filterCriteria hold up to 5 patterns; a record is invoked when it matches
// any of them, and a record that matches none is committed without an
// invocation. Lambda documents that its filter rules take "the same set of
// syntax and rules as Amazon EventBridge" (the Lambda guide, "Lambda event
// filtering"; EventBridge's "Content filtering in event patterns"; the
// engine is aws/event-ruler), and this file follows them:
//
// - A pattern is a JSON object. A field names either an object of further
//   fields (nested keys) or a list of rules; all fields must match (AND), a
//   field matches when any rule of its list does (OR). `"$or": [{...}, {...}]`
//   matches when any of its sub-patterns does, beside the other fields.
// - Rules: exact values (a string, a number, true/false, null; "" is the
//   empty string and does not match null); {"prefix": s}, {"suffix": s}
//   (s may be {"equals-ignore-case": s}); {"equals-ignore-case": s};
//   {"wildcard": "a*b"} (a `*` matches any run of characters, `\*` a star,
//   `\\` a backslash, no `**`); {"anything-but": v} where v is a string, a
//   number, a list of only strings or only numbers, or {"prefix"|"suffix"|
//   "equals-ignore-case"|"wildcard": s or [s…]}; {"numeric": [op, n]} or
//   {"numeric": [">"|">=", lo, "<"|"<=", hi]} with op one of = < <= > >=;
//   {"exists": true|false}.
// - String rules see strings only and numeric rules JSON numbers only. Exact
//   numbers compare as written, as Lambda says: 300, 300.0 and 3.0e2 are not
//   equal (hence the small JSON reader below, which keeps a number's text).
// - When the record's value at a field is a list, the field matches when any
//   element does; objects inside lists are matched element by element.
// - `exists` looks at leaf values only: {"exists": false} matches a missing
//   field and also one whose value is an object (event-ruler's rule).
// - A key written twice in a pattern: the last one counts (JSON.parse's rule,
//   as EventBridge documents).
// Not supported, with a clear message: "cidr" (EventBridge-only), and `$or`
// combinations above 1000 (EventBridge refuses those too).
//
// WHAT A PATTERN SEES (filterView):
// Kafka — Lambda filters on the record's `value`: the bytes decoded as UTF-8;
//   when the text is a JSON object or array, patterns match inside it
//   ({"value": {"device_ID": [{"prefix": "AB"}]}}); otherwise it is one
//   plain string ({"value": [{"anything-but": ["error"]}]}). Not base64: the
//   event the function gets carries base64, patterns see the decoded text.
//   Bytes that are not UTF-8 leave `value` out, and so does a null value.
//   Where a pattern's shape does not fit the value (a JSON pattern on a plain
//   string, a plain-string rule on a JSON object) the value cannot satisfy
//   it, and the record is filtered out unless the rule is {"exists": false}.
//   Lambda's table says it "filters on the other metadata properties only"
//   in those cases; we read that as "the value is not there to match", the
//   reading that never invokes a function with a record its pattern excludes.
//   `key` is decoded the same way (Lambda's older guide names key and value
//   as the two message fields). Beyond Lambda, which documents `value` only,
//   patterns may also use the metadata as Lambda's event spells it: `topic`,
//   `partition`, `offset` (a number, compared as its decimal text),
//   `timestamp` (ms), `timestampType`, and `headers` as {name: text} (a
//   repeated header: a list of its texts; headers that are not UTF-8 are left
//   out).
// Redis Streams (Hearth's own source, in the same spirit) — {stream, id,
//   timestamp (ms, from the id), fields: {name: value} (a repeated field: the
//   last value), data}: `data` is the entry's field named "data", parsed when
//   it is a JSON object or array, else its plain string; absent when the entry
//   has no such field. So {"data": {"kind": ["order"]}} matches XADD s * data
//   '{"kind":"order"}', and {"fields": {"kind": ["order"]}} XADD s * kind order.
import type { FilterCriteria } from '../api/event-source-mapping.js';
import { positionOf, timestampOf, type SourceRecord } from './records.js';

/** Lambda's default quota of filters per mapping. */
export const MAX_FILTERS = 5;
/** Lambda's limit on one pattern's text. */
export const MAX_PATTERN_LENGTH = 4096;
/** EventBridge refuses patterns whose `$or`s multiply to more rule combinations than this. */
export const MAX_OR_COMBINATIONS = 1000;

/** A JSON number with the text it was written as: exact matching compares the text, numeric matching the value. */
export class JsonNumber {
  constructor(
    readonly value: number,
    readonly text: string,
  ) {}
  toJSON(): number {
    return this.value;
  }
}

type Json = string | JsonNumber | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Leaf = string | number | JsonNumber | boolean | null;

// ---------------------------------------------------------------------------
// A JSON reader that keeps numbers' text. It runs only on text JSON.parse
// accepted, so it needs no error handling of its own, but it refuses nesting
// deeper than MAX_DEPTH: a record's value is untrusted, and matching walks
// what this returns recursively.

/** Nesting beyond this: a message is seen as a plain string, a pattern is refused. */
export const MAX_DEPTH = 512;

function readJson(text: string): Json {
  let i = 0;
  let depth = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (++depth > MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH} levels`);
    }
    if (c === '{') {
      i++;
      // Null prototype: a key "__proto__" stays a plain key, as in JSON.parse.
      const obj: JsonObject = Object.create(null) as JsonObject;
      ws();
      if (text[i] === '}') {
        i++;
        depth--;
        return obj;
      }
      for (;;) {
        ws();
        const key = string();
        ws();
        i++; // ':'
        obj[key] = value();
        ws();
        if (text[i++] === '}') return depth--, obj;
      }
    }
    if (c === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        depth--;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i++] === ']') return depth--, arr;
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) return (i += 4), true;
    if (text.startsWith('false', i)) return (i += 5), false;
    if (text.startsWith('null', i)) return (i += 4), null;
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    const t = m?.[0] ?? '';
    i += t.length;
    return new JsonNumber(Number(t), t);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  return value();
}

/** Parses JSON text keeping numbers' text; null when it is not JSON. */
function parseJson(text: string): { ok: true; value: Json } | { ok: false; message: string } {
  try {
    JSON.parse(text);
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  try {
    return { ok: true, value: readJson(text) };
  } catch (e) {
    // Only nesting deeper than MAX_DEPTH gets here.
    return { ok: false, message: (e as Error).message };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
const isNumber = (v: unknown): v is number | JsonNumber => typeof v === 'number' || v instanceof JsonNumber;
const numberValue = (v: number | JsonNumber): number => (typeof v === 'number' ? v : v.value);
const numberText = (v: number | JsonNumber): string => (typeof v === 'number' ? String(v) : v.text);
const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

// ---------------------------------------------------------------------------
// What patterns see.

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(b: Buffer): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** A message's text as patterns see it: the parsed JSON when it is an object or array, else the plain string. */
function messageView(text: string): Json {
  const t = text.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) {
    const parsed = parseJson(text);
    if (parsed.ok) return parsed.value;
  }
  return text;
}

/** The object a record's filter patterns are matched against (documented at the top of this file). */
export function filterView(record: SourceRecord): Record<string, unknown> {
  if (record.source === 'kafka') {
    const view: Record<string, unknown> = {
      topic: record.topic,
      partition: record.partition,
      offset: new JsonNumber(Number(record.offset), record.offset),
      timestamp: record.timestampMs,
      timestampType: record.timestampType,
    };
    const key = record.key === null ? undefined : decodeUtf8(record.key);
    if (key !== undefined) view.key = messageView(key);
    const value = record.value === null ? undefined : decodeUtf8(record.value);
    if (value !== undefined) view.value = messageView(value);
    const headers: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
    for (const h of record.headers) {
      const text = decodeUtf8(h.value);
      if (text === undefined) continue;
      const prev = headers[h.key];
      headers[h.key] = prev === undefined ? text : Array.isArray(prev) ? [...prev, text] : [prev, text];
    }
    view.headers = headers;
    return view;
  }
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of record.fields) fields[name] = value;
  const view: Record<string, unknown> = { stream: record.stream, id: positionOf(record), timestamp: timestampOf(record), fields };
  if (fields.data !== undefined) view.data = messageView(fields.data);
  return view;
}

// ---------------------------------------------------------------------------
// Compiling patterns.

/** Matches the leaf values found at one field (empty: the field is missing or holds only objects). */
type Rule = (leaves: readonly Leaf[]) => boolean;
interface Pattern {
  fields: Array<{ key: string; leaf: Rule[] } | { key: string; nested: Pattern }>;
  /** Each group matches when any of its sub-patterns does; all groups must. */
  ors: Pattern[][];
}

class PatternError extends Error {}

const OPERATORS = ['prefix', 'suffix', 'equals-ignore-case', 'wildcard', 'anything-but', 'numeric', 'exists', 'cidr'] as const;
const NUMERIC_OPS = ['=', '<', '<=', '>', '>='] as const;
type NumericOp = (typeof NUMERIC_OPS)[number];

const where = (path: string[]) => (path.length === 0 ? 'the pattern' : `"${path.join('.')}"`);
const shown = (v: Json): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : v instanceof JsonNumber ? `the number ${v.text}` : typeof v === 'object' ? 'an object' : JSON.stringify(v);

function compilePattern(obj: Json, path: string[], combos: { n: number }): Pattern {
  if (!isObject(obj)) throw new PatternError(`${where(path)} must be a JSON object of fields, got ${shown(obj)}`);
  const keys = Object.keys(obj);
  if (keys.length === 0) throw new PatternError(`${where(path)} is an empty object: name at least one field`);
  const pattern: Pattern = { fields: [], ors: [] };
  for (const key of keys) {
    const v = (obj as JsonObject)[key] as Json;
    const at = [...path, key];
    if (key === '$or') {
      if (!Array.isArray(v) || v.length < 2 || !v.every(isObject))
        throw new PatternError(`${where(at)} must be a list of at least two patterns (objects), got ${shown(v)}`);
      combos.n *= v.length;
      if (combos.n > MAX_OR_COMBINATIONS) throw new PatternError(`the $or lists make more than ${MAX_OR_COMBINATIONS} rule combinations`);
      pattern.ors.push(v.map((sub, i) => compilePattern(sub, [...path, `$or[${i}]`], combos)));
    } else if (Array.isArray(v)) {
      if (v.length === 0) throw new PatternError(`${where(at)} is an empty list, which matches nothing: give at least one value or rule`);
      pattern.fields.push({ key, leaf: v.map((r) => compileRule(r, at)) });
    } else if (isObject(v)) {
      pattern.fields.push({ key, nested: compilePattern(v, at, combos) });
    } else {
      throw new PatternError(`${where(at)} must be a list of values or rules (e.g. ["a"]) or an object of fields, got ${shown(v)}`);
    }
  }
  return pattern;
}

function sameLeaf(leaf: Leaf, want: string | JsonNumber | boolean | null): boolean {
  if (want instanceof JsonNumber) return isNumber(leaf) && numberText(leaf) === want.text;
  return leaf === want;
}

function stringArg(v: Json, op: string, at: string[]): string {
  if (typeof v !== 'string') throw new PatternError(`"${op}" at ${where(at)} takes a string, got ${shown(v)}`);
  return v;
}

/** prefix/suffix: a string, or {"equals-ignore-case": string}. */
function affixArg(v: Json, op: string, at: string[]): { s: string; ignoreCase: boolean } {
  if (isObject(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1 || keys[0] !== 'equals-ignore-case')
      throw new PatternError(`"${op}" at ${where(at)} takes a string or {"equals-ignore-case": string}`);
    return { s: stringArg((v as JsonObject)['equals-ignore-case'] as Json, `${op}.equals-ignore-case`, at), ignoreCase: true };
  }
  return { s: stringArg(v, op, at), ignoreCase: false };
}

function wildcardRegex(s: string, at: string[]): RegExp {
  let re = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\') {
      const next = s[i + 1];
      if (next !== '*' && next !== '\\') throw new PatternError(`"wildcard" at ${where(at)}: a backslash may escape only * or \\`);
      re += `\\${next}`;
      i++;
    } else if (c === '*') {
      if (s[i + 1] === '*') throw new PatternError(`"wildcard" at ${where(at)}: consecutive * are not allowed`);
      re += '.*';
    } else {
      re += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, 's');
}

/** A test of one string, for prefix/suffix/equals-ignore-case/wildcard (alone or under anything-but). */
function stringTest(op: string, v: Json, at: string[]): (s: string) => boolean {
  switch (op) {
    case 'prefix': {
      const { s, ignoreCase } = affixArg(v, op, at);
      return ignoreCase ? (x) => x.toLowerCase().startsWith(s.toLowerCase()) : (x) => x.startsWith(s);
    }
    case 'suffix': {
      const { s, ignoreCase } = affixArg(v, op, at);
      return ignoreCase ? (x) => x.toLowerCase().endsWith(s.toLowerCase()) : (x) => x.endsWith(s);
    }
    case 'equals-ignore-case': {
      const s = stringArg(v, op, at).toLowerCase();
      return (x) => x.toLowerCase() === s;
    }
    default: {
      const re = wildcardRegex(stringArg(v, op, at), at);
      return (x) => re.test(x);
    }
  }
}

function compileRule(r: Json, at: string[]): Rule {
  if (typeof r === 'string' || r instanceof JsonNumber || typeof r === 'boolean' || r === null) return (leaves) => leaves.some((l) => sameLeaf(l, r));
  if (Array.isArray(r)) throw new PatternError(`${where(at)} holds a list inside its list: give values or rules, one level deep`);
  const keys = Object.keys(r);
  if (keys.length !== 1)
    throw new PatternError(`a rule at ${where(at)} must hold exactly one operator, got ${keys.length === 0 ? 'none' : keys.map((k) => `"${k}"`).join(', ')}`);
  const op = keys[0] as string;
  const arg = r[op] as Json;
  if (!(OPERATORS as readonly string[]).includes(op))
    throw new PatternError(`unknown operator "${op}" at ${where(at)}; Lambda's operators are ${OPERATORS.filter((o) => o !== 'cidr').join(', ')} and $or`);
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
    case 'wildcard': {
      const test = stringTest(op, arg, at);
      return (leaves) => leaves.some((l) => typeof l === 'string' && test(l));
    }
    case 'exists':
      if (typeof arg !== 'boolean') throw new PatternError(`"exists" at ${where(at)} takes true or false, got ${shown(arg)}`);
      return arg ? (leaves) => leaves.length > 0 : (leaves) => leaves.length === 0;
    case 'numeric':
      return numericRule(arg, at);
    case 'anything-but':
      return anythingButRule(arg, at);
    default:
      throw new PatternError(`"cidr" at ${where(at)} is EventBridge's, not supported in Lambda's filter patterns`);
  }
}

function numericRule(arg: Json, at: string[]): Rule {
  const shape = `"numeric" at ${where(at)} takes [op, number] or [">"|">=", number, "<"|"<=", number], with op one of ${NUMERIC_OPS.join(' ')}`;
  if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) throw new PatternError(shape);
  const conds: Array<{ op: NumericOp; n: number }> = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i] as Json;
    const n = arg[i + 1] as Json;
    if (typeof op !== 'string' || !(NUMERIC_OPS as readonly string[]).includes(op))
      throw new PatternError(`"numeric" at ${where(at)}: ${shown(op)} is not a comparison; use one of ${NUMERIC_OPS.join(' ')}`);
    if (!(n instanceof JsonNumber)) throw new PatternError(`"numeric" at ${where(at)}: "${op}" must be followed by a number, got ${shown(n)}`);
    conds.push({ op: op as NumericOp, n: n.value });
  }
  if (conds.length === 2) {
    const [lo, hi] = conds as [{ op: NumericOp; n: number }, { op: NumericOp; n: number }];
    if (!(lo.op === '>' || lo.op === '>=') || !(hi.op === '<' || hi.op === '<=')) throw new PatternError(shape);
    if (!(lo.n < hi.n)) throw new PatternError(`"numeric" at ${where(at)}: the lower bound ${lo.n} must be below the upper bound ${hi.n}`);
  }
  const holds = (x: number) =>
    conds.every(({ op, n }) => (op === '=' ? x === n : op === '<' ? x < n : op === '<=' ? x <= n : op === '>' ? x > n : x >= n));
  return (leaves) => leaves.some((l) => isNumber(l) && holds(numberValue(l)));
}

function anythingButRule(arg: Json, at: string[]): Rule {
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    const op = keys[0];
    if (keys.length !== 1 || !['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(op as string))
      throw new PatternError(`"anything-but" at ${where(at)} takes a value, a list of values, or one of {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}`);
    const inner = (arg as JsonObject)[op as string] as Json;
    const list = Array.isArray(inner) ? inner : [inner];
    if (list.length === 0) throw new PatternError(`"anything-but" at ${where(at)}: the "${op}" list is empty`);
    // anything-but prefix/suffix/... takes strings only (no {"equals-ignore-case"} inside).
    const tests = list.map((s) => stringTest(op as string, stringArg(s, `anything-but.${op}`, at), at));
    return (leaves) => leaves.some((l) => typeof l === 'string' && !tests.some((t) => t(l)));
  }
  const list = Array.isArray(arg) ? arg : [arg];
  if (list.length === 0) throw new PatternError(`"anything-but" at ${where(at)} is an empty list`);
  const allStrings = list.every((v) => typeof v === 'string');
  const allNumbers = list.every((v) => v instanceof JsonNumber);
  if (!allStrings && !allNumbers) throw new PatternError(`"anything-but" at ${where(at)} takes strings only or numbers only, got ${list.map(shown).join(', ')}`);
  if (allStrings) {
    const set = new Set(list as string[]);
    return (leaves) => leaves.some((l) => !(typeof l === 'string' && set.has(l)));
  }
  // Numbers compare by value here: anything-but is a numeric comparison in EventBridge.
  const nums = (list as JsonNumber[]).map((n) => n.value);
  return (leaves) => leaves.some((l) => !(isNumber(l) && nums.includes(numberValue(l))));
}

/** Compiles one pattern's text, or throws a PatternError saying what is wrong. */
function compileText(text: string): Pattern {
  if (text.length > MAX_PATTERN_LENGTH) throw new PatternError(`is ${text.length} characters long; ${MAX_PATTERN_LENGTH} at most`);
  const parsed = parseJson(text);
  if (!parsed.ok) throw new PatternError(parsed.message.startsWith('nested deeper') ? `is ${parsed.message}` : `is not valid JSON: ${parsed.message}`);
  return compilePattern(parsed.value, [], { n: 1 });
}

// ---------------------------------------------------------------------------
// Matching.

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** The leaf values at a field: lists flattened, objects left out. */
function leavesOf(v: unknown, out: Leaf[] = []): Leaf[] {
  if (v === undefined || isObject(v)) return out;
  if (Array.isArray(v)) {
    for (const e of v) leavesOf(e, out);
    return out;
  }
  out.push(v as Leaf);
  return out;
}

/** The objects at a field, for a nested pattern: lists flattened; none → one empty object, so {"exists": false} inside can match. */
function objectsOf(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (isObject(v)) out.push(v);
  else if (Array.isArray(v)) for (const e of v) objectsOf(e, out);
  return out;
}

function matches(p: Pattern, obj: Record<string, unknown>): boolean {
  for (const f of p.fields) {
    const v = has(obj, f.key) ? obj[f.key] : undefined;
    if ('leaf' in f) {
      const leaves = leavesOf(v);
      if (!f.leaf.some((rule) => rule(leaves))) return false;
    } else {
      const objs = objectsOf(v);
      if (objs.length === 0) objs.push(EMPTY);
      if (!objs.some((o) => matches(f.nested, o))) return false;
    }
  }
  return p.ors.every((group) => group.some((sub) => matches(sub, obj)));
}

// ---------------------------------------------------------------------------
// The API.

/** What is wrong with a mapping's filter criteria, one clear sentence each; empty when they are fine. */
export function filterProblems(criteria: FilterCriteria | undefined): string[] {
  if (criteria === undefined) return [];
  const problems: string[] = [];
  if (criteria.filters.length > MAX_FILTERS) problems.push(`${criteria.filters.length} filters; a mapping takes ${MAX_FILTERS} at most`);
  criteria.filters.forEach((f, i) => {
    try {
      compileText(f.pattern);
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      problems.push(`filter ${i + 1}: ${e.message.startsWith('is ') ? 'the pattern ' : ''}${e.message}`);
    }
  });
  return problems;
}

/**
 * The predicate a partition processor runs on each record: true to invoke it.
 * No criteria (or no filters): every record passes. Throws when the criteria
 * have problems (check filterProblems first and report them as the mapping's).
 */
export function compileFilters(criteria: FilterCriteria | undefined): (record: SourceRecord) => boolean {
  if (criteria === undefined || criteria.filters.length === 0) return () => true;
  const problems = filterProblems(criteria);
  if (problems.length > 0) throw new Error(`invalid filterCriteria: ${problems.join('; ')}`);
  const patterns = criteria.filters.map((f) => compileText(f.pattern));
  return (record) => {
    const view = filterView(record);
    return patterns.some((p) => matches(p, view));
  };
}

/** Whether a pattern's text matches an object (the view of a record, or any JSON value); for tests and tools. Throws on an invalid pattern. */
export function patternMatches(pattern: string, event: string | Record<string, unknown>): boolean {
  const p = compileText(pattern);
  let obj: unknown = event;
  if (typeof event === 'string') {
    const parsed = parseJson(event);
    if (!parsed.ok) throw new Error(`event is not valid JSON: ${parsed.message}`);
    obj = parsed.value;
  }
  return matches(p, isObject(obj) ? obj : EMPTY);
}
