// The ConfigMaps and Secrets a process knows about, held in memory and fed by
// whoever reads the source of truth (the embedded platform: the manifests in
// its functions directory). The local backend resolves every reference through
// it, so a missing object or key is reported the same way wherever it is used.
import { createHash } from 'node:crypto';
import { objectId, type ConfigObject, type ConfigObjectSource, type ObjectKind, type ObjectLookup, type ObjectRef, type ObjectValue } from './config-objects.js';

export class ObjectStore implements ConfigObjectSource {
  readonly #objects = new Map<string, ConfigObject>();
  readonly #digests = new Map<string, string>();

  /** @param where how errors name the place objects come from, e.g. "the functions directory /srv/fns". */
  constructor(private readonly where: string) {}

  /** Replaces every object; returns the ids (Kind/name) of those added, changed or removed. */
  replace(objects: readonly ConfigObject[]): string[] {
    const next = new Map(objects.map((o) => [objectId(o), o]));
    const changed: string[] = [];
    for (const id of this.#objects.keys()) if (!next.has(id)) changed.push(id);
    for (const [id, o] of next) if (this.#digests.get(id) !== contentDigest(o)) changed.push(id);
    this.#objects.clear();
    this.#digests.clear();
    for (const [id, o] of next) {
      this.#objects.set(id, o);
      this.#digests.set(id, contentDigest(o));
    }
    return changed;
  }

  lookup(kind: ObjectKind, name: string, key: string): ObjectLookup {
    const o = this.#objects.get(objectId({ kind, name }));
    if (o === undefined) return { ok: false, reason: this.#absent(kind, name) };
    const value = o.values.get(key);
    if (value === undefined) {
      const keys = [...o.values.keys()].sort();
      return { ok: false, reason: `${kind} ${name} has no key ${key} (its keys: ${keys.length > 0 ? keys.join(', ') : 'none'})` };
    }
    return { ok: true, value };
  }

  entries(kind: ObjectKind, name: string): ReadonlyMap<string, ObjectValue> | string {
    return this.#objects.get(objectId({ kind, name }))?.values ?? this.#absent(kind, name);
  }

  digest(refs: readonly ObjectRef[]): string {
    const h = createHash('sha256');
    for (const id of refs.map(objectId).sort()) h.update(id).update('\0').update(this.#digests.get(id) ?? 'absent').update('\0');
    return h.digest('hex').slice(0, 16);
  }

  #absent(kind: ObjectKind, name: string): string {
    return `there is no ${kind} ${name} in ${this.where}`;
  }
}

function contentDigest(o: ConfigObject): string {
  const h = createHash('sha256');
  for (const k of [...o.values.keys()].sort()) {
    const v = o.values.get(k) as ObjectValue;
    h.update(k).update('\0').update(v.text === undefined ? 'b' : 't').update(v.bytes).update('\0');
  }
  return h.digest('hex');
}
