// Lambda's tags ↔ spec.tags (kept with the function, out of its versions).
// TagResource merges, UntagResource removes keys, ListTags shows them. Pure.
import type { FunctionSpecInput } from '../api/function.js';
import { LIMITS } from '../api/function.js';
import { badParameter } from '../gateway/lambda-errors.js';

/** Tags as a request sends them, checked as Lambda checks them (the store checks the count and lengths again). */
export function checkTags(tags: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(tags)) {
    if (k.length < 1 || k.length > 128) throw badParameter(`Tag key ${JSON.stringify(k)} must be 1 to 128 characters long`);
    if (v.length > 256) throw badParameter(`The value of tag ${JSON.stringify(k)} must be at most 256 characters long`);
    if (k.toLowerCase().startsWith('aws:')) throw badParameter(`Tag key ${JSON.stringify(k)}: the aws: prefix is reserved`);
  }
  return tags;
}

export function withTags(spec: FunctionSpecInput, tags: Record<string, string>): FunctionSpecInput {
  const merged = { ...spec.tags, ...tags };
  if (Object.keys(merged).length > LIMITS.tags) throw badParameter(`A function may have at most ${LIMITS.tags} tags`);
  return { ...spec, tags: merged };
}

export function withoutTags(spec: FunctionSpecInput, keys: readonly string[]): FunctionSpecInput {
  const { tags: _tags, ...rest } = spec;
  const kept = Object.fromEntries(Object.entries(spec.tags ?? {}).filter(([k]) => !keys.includes(k)));
  return Object.keys(kept).length > 0 ? { ...rest, tags: kept } : rest;
}
