// The callers of one credentials file, ready for lookups. API keys are kept
// only as SHA-256 digests and compared in constant time against every
// caller, so neither the file nor the timing of a lookup gives a key away.
import { createHash, timingSafeEqual } from 'node:crypto';
import { DEFAULT_ACTIONS } from './actions.js';
import type { CredentialsFile } from './credentials.js';
import type { FunctionPattern } from './function-patterns.js';

export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export interface Caller {
  name: string;
  functions: readonly FunctionPattern[];
  /** IAM action patterns (src/gateway/auth/actions.ts); DEFAULT_ACTIONS when the file names none. */
  actions: readonly string[];
  rateLimit?: RateLimit;
}

interface KeyedCaller extends Caller {
  keyDigest?: Buffer;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export class CallerTable {
  readonly #keyed: KeyedCaller[];
  readonly #byAccessKeyId = new Map<string, KeyedCaller>();

  constructor(file: CredentialsFile) {
    this.#keyed = file.callers.map((c) => {
      const keyDigest = c.sha256 !== undefined ? Buffer.from(c.sha256, 'hex') : c.apiKey !== undefined ? digest(c.apiKey) : undefined;
      const rateLimit = c.rateLimit ? { requestsPerSecond: c.rateLimit.requestsPerSecond, burst: c.rateLimit.burst ?? Math.max(1, Math.ceil(c.rateLimit.requestsPerSecond)) } : undefined;
      const caller: KeyedCaller = {
        name: c.name,
        functions: [...c.functions],
        actions: [...(c.actions ?? DEFAULT_ACTIONS)],
        ...(rateLimit ? { rateLimit } : {}),
        ...(keyDigest ? { keyDigest } : {}),
        ...(c.accessKeyId !== undefined && c.secretAccessKey !== undefined ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } : {}),
      };
      if (caller.accessKeyId !== undefined) this.#byAccessKeyId.set(caller.accessKeyId, caller);
      return caller;
    });
  }

  get size(): number {
    return this.#keyed.length;
  }

  get names(): ReadonlySet<string> {
    return new Set(this.#keyed.map((c) => c.name));
  }

  /** The caller holding this API key. Every caller's digest is compared, whichever matches. */
  byApiKey(key: string): Caller | undefined {
    const d = digest(key);
    let found: KeyedCaller | undefined;
    for (const c of this.#keyed) {
      if (c.keyDigest !== undefined && timingSafeEqual(c.keyDigest, d) && found === undefined) found = c;
    }
    return found ? publicView(found) : undefined;
  }

  /** An access key id is an identifier, not a secret (AWS prints it in error messages), so a map lookup is fine. */
  byAccessKeyId(id: string): { caller: Caller; secretAccessKey: string } | undefined {
    const c = this.#byAccessKeyId.get(id);
    return c?.secretAccessKey !== undefined ? { caller: publicView(c), secretAccessKey: c.secretAccessKey } : undefined;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** What the rest of the gateway may see of a caller: never its key or secret. */
function publicView(c: KeyedCaller): Caller {
  return { name: c.name, functions: c.functions, actions: c.actions, ...(c.rateLimit ? { rateLimit: c.rateLimit } : {}) };
}

/** Constant-time equality of two strings of possibly different lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
