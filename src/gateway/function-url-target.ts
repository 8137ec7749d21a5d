// What a function URL route names: /fn/NAME/... is the function's $LATEST,
// /fn/NAME:ALIAS/... one of its aliases and /fn/NAME:$LATEST/... $LATEST
// again. Lambda gives function URLs only to $LATEST and aliases, never to a
// version number, so /fn/NAME:3/... names nothing. Pure.
import { LATEST } from '../api/function.js';

export type FunctionUrlTarget =
  | { ok: true; name: string; qualifier?: string }
  /** Names nothing a URL serves; `name` is still the function's, for authorisation. */
  | { ok: false; name: string; message: string };

const ALIAS = /^[a-zA-Z0-9_-]{1,128}$/;

/** Reads the route's name segment, already URL-decoded (so %24LATEST is $LATEST). */
export function functionUrlTarget(raw: string): FunctionUrlTarget {
  const i = raw.indexOf(':');
  if (i < 0) return { ok: true, name: raw };
  const name = raw.slice(0, i);
  const qualifier = raw.slice(i + 1);
  if (qualifier === LATEST) return { ok: true, name, qualifier };
  // A number is a version (Lambda refuses such alias names too), and anything else no alias could be called.
  if (/^[0-9]+$/.test(qualifier) || !ALIAS.test(qualifier)) return { ok: false, name, message: `Function not found: ${raw}` };
  return { ok: true, name, qualifier };
}
