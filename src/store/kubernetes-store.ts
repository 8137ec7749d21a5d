// Functions, versions and aliases kept in the Kubernetes API. A Function is
// the object `kubectl apply` writes: created with POST, read with GET, its
// revision is its resourceVersion, an update is a PUT at the resourceVersion
// it read, and deleting it takes its versions with it (owner references).
// Each published version is a FunctionVersion object named
// versionObjectName(NAME, N), labelled hearth.dev/version-of=NAME and owned
// by its Function (so `kubectl get functionversions` lists them and
// deleting the Function deletes them); the number counter is the Function's status.latestVersion; aliases are the
// Function's spec.aliases. Every write that depends on what was read carries
// the resourceVersion it was read at, so two writers never both win: the
// loser re-reads and tries again, a bounded number of times.
//
// Used by the gateway (the control routes) and the controller (publish on
// change, retention), so it imports neither.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { FunctionStatusSchema, LATEST, VERSION_NUMBER, type Alias, type AliasInput, type HearthFunction } from '../api/function.js';
import { FunctionVersionSchema, FunctionVersionSpecSchema, VERSION_KIND, type FunctionVersion } from '../api/function-version.js';
import { describeProblems, problemsOf, validateFunction } from '../api/validate.js';
import { RESOURCES, resourcePath } from '../kube/paths.js';
import { CONTENT_MERGE, isStatus, type KubeRest } from '../kube/rest.js';
import { versionLabels, versionsOfSelector } from '../versions/labels.js';
import { latestPublished, nextVersionNumber, snapshotOf, versionNumbers } from '../versions/snapshot.js';
import { versionObjectName } from '../versions/units.js';
import { aliasesUsing, changeAlias, removeAlias } from './alias-change.js';
import { configMapRefs, copyName, publishedDigest, withCopies, type ConfigMapContent } from './configmap-copies.js';
import { StoreError, type CreateFunctionInput, type FunctionStore, type PublishOptions, type PublishResult, type StoredFunction, type StoredMapping, type UpdateOptions } from './function-store.js';
import { EventSourceMappingSchema, type EventSourceMappingSpecInput } from '../api/event-source-mapping.js';
import type { FunctionSpecInput } from '../api/function.js';
import { storeErrorOf } from './kube-errors.js';
import { clusterObservation, type ObservedWire } from './observation.js';

export interface KubernetesStoreOptions {
  rest: KubeRest;
  namespace: string;
  logger?: Logger;
  /** Tries of a write that lost a race (409) before giving up with a conflict (default 10). */
  maxAttempts?: number;
  /** How long a publish waits for the version of a number another publisher has just taken to appear (default 1 s). */
  inFlightWaitMs?: number;
}

interface OwnerRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

/** A Function as the API server sends it: what the store reads besides the spec. */
interface FunctionWire {
  metadata?: { name?: string; uid?: string; resourceVersion?: string };
  spec?: { aliases?: Record<string, unknown>[] } & Record<string, unknown>;
  status?: { latestVersion?: string };
}

interface WireMeta {
  name?: string;
  uid?: string;
  ownerReferences?: OwnerRef[];
}

export class KubernetesStore implements FunctionStore {
  readonly #rest: KubeRest;
  readonly #ns: string;
  readonly #log: Logger | undefined;
  readonly #maxAttempts: number;
  readonly #inFlightWaitMs: number;

  constructor(opts: KubernetesStoreOptions) {
    this.#rest = opts.rest;
    this.#ns = opts.namespace;
    this.#log = opts.logger;
    this.#maxAttempts = opts.maxAttempts ?? 10;
    this.#inFlightWaitMs = opts.inFlightWaitMs ?? 1000;
  }
  async getFunction(name: string): Promise<StoredFunction> {
    return storedOf(await this.#readStored(name));
  }

  async listFunctions(): Promise<StoredFunction[]> {
    const list = await this.#rest.request<{ items?: StoredWire[] }>('GET', resourcePath(RESOURCES.Function, this.#ns));
    const out: StoredFunction[] = [];
    for (const item of list.items ?? []) {
      if (isDeleting(item)) continue;
      try {
        out.push(storedOf(item));
      } catch (err) {
        // One Function the schema refuses (the controller reports it InvalidSpec) does not hide the others.
        if (!(err instanceof StoreError)) throw err;
        this.#log?.warn({ function: item.metadata?.name, problems: err.problems }, `not listing function ${item.metadata?.name ?? '?'}: ${err.message}`);
      }
    }
    return out.sort((a, b) => (a.fn.metadata.name < b.fn.metadata.name ? -1 : a.fn.metadata.name > b.fn.metadata.name ? 1 : 0));
  }

  async createFunction(input: CreateFunctionInput): Promise<StoredFunction> {
    const { name } = input;
    const body = {
      apiVersion: RESOURCES.Function.apiVersion,
      kind: RESOURCES.Function.kind,
      metadata: { name, namespace: this.#ns, ...(input.labels !== undefined && Object.keys(input.labels).length > 0 ? { labels: input.labels } : {}) },
      spec: input.spec,
    };
    const checked = validateFunction(body);
    if (!checked.ok) throw new StoreError('invalid', `Function ${name} is invalid: ${describeProblems(checked.problems)}`, checked.problems);
    let created: StoredWire;
    try {
      created = await this.#rest.request<StoredWire>('POST', resourcePath(RESOURCES.Function, this.#ns), { body });
    } catch (err) {
      if (isStatus(err, 409)) throw new StoreError('conflict', `Function already exist: ${name}`);
      throw storeErrorOf(err, `function ${name}`);
    }
    this.#log?.info({ function: name }, 'function created');
    return storedOf(created);
  }

  async updateFunction(name: string, edit: (spec: FunctionSpecInput) => FunctionSpecInput, opts: UpdateOptions = {}): Promise<StoredFunction> {
    for (let attempt = 1; ; attempt++) {
      // Not validated as read: an edit may fix a Function the schema refuses (the result is validated).
      const wire = await this.#readStored(name, { validate: false });
      const revision = wire.metadata?.resourceVersion;
      if (opts.expectedRevision !== undefined && opts.expectedRevision !== revision) {
        throw new StoreError('precondition', `function ${name} has changed: its revision is ${revision ?? '?'}, not ${opts.expectedRevision}`);
      }
      // The spec as stored (with what the CRD's defaults filled in on write), not the schema's form of it.
      const spec = edit(structuredClone(wire.spec ?? {}) as FunctionSpecInput);
      const checked = validateFunction(userDocument(wire, spec));
      if (!checked.ok) throw new StoreError('invalid', `Function ${name} is invalid: ${describeProblems(checked.problems)}`, checked.problems);
      const { managedFields: _m, ...metadata } = wire.metadata ?? {};
      // A whole-object PUT at the resourceVersion read: the API server refuses it (409) if anyone wrote in between. Status is the controller's and not sent.
      const body = { apiVersion: wire.apiVersion, kind: wire.kind, metadata, spec };
      try {
        const updated = await this.#rest.request<StoredWire>('PUT', resourcePath(RESOURCES.Function, this.#ns, name), { body });
        this.#log?.info({ function: name }, 'function updated');
        return storedOf(updated);
      } catch (err) {
        // Someone wrote first: read again and edit what they wrote (a stale expectedRevision then ends it as a precondition).
        if (isStatus(err, 409) && attempt < this.#maxAttempts) {
          await backoff(attempt);
          continue;
        }
        if (isStatus(err, 404)) throw new StoreError('not-found', `Function not found: ${name}`);
        throw storeErrorOf(err, `function ${name}`);
      }
    }
  }

  async deleteFunction(name: string): Promise<void> {
    const wire = await this.#readStored(name, { validate: false });
    const uid = wire.metadata?.uid;
    try {
      // Its versions, and what they and it own, are removed by the garbage collector (ownerReferences).
      await this.#rest.request('DELETE', resourcePath(RESOURCES.Function, this.#ns, name), {
        body: { propagationPolicy: 'Background', ...(uid !== undefined ? { preconditions: { uid } } : {}) },
      });
    } catch (err) {
      if (isStatus(err, 404)) throw new StoreError('not-found', `Function not found: ${name}`);
      throw storeErrorOf(err, `function ${name}`);
    }
    this.#log?.info({ function: name }, 'function deleted');
  }

  // EventSourceMappings: the custom resource kubectl applies; the gateways' informers run what is written here.
  async listMappings(): Promise<StoredMapping[]> {
    const list = await this.#rest.request<{ items?: StoredWire[] }>('GET', resourcePath(RESOURCES.EventSourceMapping, this.#ns));
    const out: StoredMapping[] = [];
    for (const item of list.items ?? []) {
      if (isDeleting(item)) continue;
      const m = mappingOf(item);
      if (m === undefined) {
        this.#log?.warn({ mapping: item.metadata?.name }, 'not listing an EventSourceMapping the schema refuses');
        continue;
      }
      out.push(m);
    }
    return out.sort((a, b) => (a.mapping.metadata.name < b.mapping.metadata.name ? -1 : 1));
  }

  async createMapping(name: string, spec: EventSourceMappingSpecInput): Promise<StoredMapping> {
    const body = { apiVersion: RESOURCES.EventSourceMapping.apiVersion, kind: RESOURCES.EventSourceMapping.kind, metadata: { name, namespace: this.#ns }, spec };
    const checked = EventSourceMappingSchema.safeParse(body);
    if (!checked.success) {
      const problems = problemsOf(checked.error);
      throw new StoreError('invalid', `EventSourceMapping ${name} is invalid: ${describeProblems(problems)}`, problems);
    }
    try {
      const created = await this.#rest.request<StoredWire>('POST', resourcePath(RESOURCES.EventSourceMapping, this.#ns), { body });
      this.#log?.info({ mapping: name }, 'event-source mapping created');
      return mappingOf(created) ?? { mapping: checked.data, revision: created.metadata?.resourceVersion ?? '' };
    } catch (err) {
      if (isStatus(err, 409)) throw new StoreError('conflict', `EventSourceMapping ${name} exists already`);
      throw storeErrorOf(err, `event-source mapping ${name}`);
    }
  }

  async updateMapping(name: string, edit: (spec: EventSourceMappingSpecInput) => EventSourceMappingSpecInput): Promise<StoredMapping> {
    const path = resourcePath(RESOURCES.EventSourceMapping, this.#ns, name);
    for (let attempt = 1; ; attempt++) {
      let wire: StoredWire;
      try {
        wire = await this.#rest.request<StoredWire>('GET', path);
      } catch (err) {
        throw storeErrorOf(err, `EventSourceMapping ${name}`);
      }
      if (isDeleting(wire)) throw new StoreError('not-found', `EventSourceMapping ${name} not found`);
      const spec = edit(structuredClone(wire.spec ?? {}) as EventSourceMappingSpecInput);
      const checked = EventSourceMappingSchema.safeParse({ ...(userDocument(wire, spec) as Record<string, unknown>), metadata: { name, namespace: this.#ns } });
      if (!checked.success) {
        const problems = problemsOf(checked.error);
        throw new StoreError('invalid', `EventSourceMapping ${name} is invalid: ${describeProblems(problems)}`, problems);
      }
      const { managedFields: _m, ...metadata } = wire.metadata ?? {};
      try {
        // At the resourceVersion read: a writer in between (kubectl, another gateway) makes it 409, and the edit is made again on what they wrote.
        const updated = await this.#rest.request<StoredWire>('PUT', path, { body: { apiVersion: wire.apiVersion, kind: wire.kind, metadata, spec } });
        this.#log?.info({ mapping: name }, 'event-source mapping updated');
        return mappingOf(updated) ?? { mapping: checked.data, revision: updated.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (isStatus(err, 409) && attempt < this.#maxAttempts) {
          await backoff(attempt);
          continue;
        }
        throw storeErrorOf(err, `EventSourceMapping ${name}`);
      }
    }
  }

  async deleteMapping(name: string): Promise<void> {
    try {
      await this.#rest.request('DELETE', resourcePath(RESOURCES.EventSourceMapping, this.#ns, name), { body: { propagationPolicy: 'Background' } });
    } catch (err) {
      throw storeErrorOf(err, `EventSourceMapping ${name}`);
    }
    this.#log?.info({ mapping: name }, 'event-source mapping deleted');
  }

  /** The Function as the API server has it, absent (not-found) while it is being deleted; validated unless asked not to. */
  async #readStored(name: string, opts: { validate?: boolean } = {}): Promise<StoredWire> {
    let wire: StoredWire;
    try {
      wire = await this.#rest.request<StoredWire>('GET', resourcePath(RESOURCES.Function, this.#ns, name));
    } catch (err) {
      if (isStatus(err, 404)) throw new StoreError('not-found', `Function not found: ${name}`);
      throw storeErrorOf(err, `function ${name}`);
    }
    if (isDeleting(wire)) throw new StoreError('not-found', `Function not found: ${name}`);
    if (opts.validate !== false) storedOf(wire);
    return wire;
  }

  async publishVersion(name: string, opts: PublishOptions = {}): Promise<PublishResult> {
    if (opts.description !== undefined) {
      const d = FunctionVersionSpecSchema.shape.description.safeParse(opts.description);
      if (!d.success) throw new StoreError('invalid', 'the description is invalid', problemsOf(d.error).map((p) => ({ path: 'description', message: p.message })));
    }
    for (let attempt = 1; ; attempt++) {
      const { wire, fn } = await this.#readFunction(name);
      const uid = wire.metadata?.uid ?? '';
      const listed = await this.#listVersionObjects(name);
      let own = listed.filter((v) => ownedBy(v, uid));

      // The digest covers the snapshot and the bytes of the ConfigMaps it names, read now; the copies hold exactly these bytes.
      const snapshot = snapshotOf(fn.spec);
      const refs = configMapRefs(snapshot);
      const originals = await Promise.all(refs.map((r) => this.#readConfigMap(r.name)));
      const { digest, copies, problems } = publishedDigest(snapshot, originals);
      if (problems.length > 0) throw new StoreError('invalid', `function ${name} references code that does not exist`, problems);
      if (opts.expectedDigest !== undefined && opts.expectedDigest !== digest) {
        throw new StoreError('precondition', `function ${name} has changed: its code and configuration digest is ${digest}, not ${opts.expectedDigest}`);
      }

      const counter = counterOf(wire);
      // The counter is ahead of every version: another publisher may have taken that number and be creating its version now. If that one has the same digest, it is ours too.
      own = await this.#withInFlight(name, uid, counter, own);
      const latest = latestPublished(own);
      if (latest !== undefined && latest.spec.codeSha256 === digest) return { version: latest, created: false };

      const n = String(nextVersionNumber(counter, listed));
      const counted = await this.#patchIfUnchanged(resourcePath(RESOURCES.Function, this.#ns, name, 'status'), { metadata: { resourceVersion: wire.metadata?.resourceVersion }, status: { latestVersion: n } }, attempt, `function ${name}`);
      if (!counted) continue;
      const toCopy = refs.flatMap((ref, i) => {
        const content = copies[i];
        return content !== undefined ? [{ ref, content }] : [];
      });
      const version = await this.#createVersion({ name, uid, n, digest, snapshot, description: opts.description, copies: toCopy });
      this.#log?.info({ function: name, version: n, digest }, 'published a version');
      return { version, created: true };
    }
  }

  async listVersions(name: string): Promise<FunctionVersion[]> {
    const [{ wire }, listed] = await Promise.all([this.#readFunction(name, { validate: false }), this.#listVersionObjects(name)]);
    return ownVersions(listed, wire.metadata?.uid ?? '');
  }

  async deleteVersion(name: string, version: string): Promise<void> {
    if (version === LATEST) throw new StoreError('invalid', `$LATEST cannot be deleted as a version; delete the function instead`, [{ path: 'version', message: 'may not be $LATEST' }]);
    if (!VERSION_NUMBER.test(version)) throw new StoreError('not-found', `version ${version} of function ${name} not found`);
    const { fn } = await this.#readFunction(name);
    // Refused while an alias points to it. An alias written at the same moment could still slip past this check; the controller's AliasesValid condition then names it.
    const users = aliasesUsing(fn, version);
    if (users.length > 0) {
      throw new StoreError('conflict', `version ${version} of function ${name} is used by alias${users.length > 1 ? 'es' : ''} ${users.join(', ')}`);
    }
    const objectName = versionObjectName(name, version);
    let obj: FunctionVersion;
    try {
      obj = await this.#rest.request<FunctionVersion>('GET', resourcePath(RESOURCES.FunctionVersion, this.#ns, objectName));
    } catch (err) {
      throw storeErrorOf(err, `version ${version} of function ${name}`);
    }
    if (obj.spec?.function !== name || obj.spec.version !== version) throw new StoreError('not-found', `version ${version} of function ${name} not found`);
    const uid = (obj.metadata as WireMeta).uid;
    try {
      // Its ConfigMap copies, Deployment and Service are owned by it and go with it.
      await this.#rest.request('DELETE', resourcePath(RESOURCES.FunctionVersion, this.#ns, objectName), {
        body: { propagationPolicy: 'Background', ...(uid !== undefined ? { preconditions: { uid } } : {}) },
      });
    } catch (err) {
      throw storeErrorOf(err, `version ${version} of function ${name}`);
    }
    this.#log?.info({ function: name, version }, 'deleted a version');
  }

  async listAliases(name: string): Promise<Alias[]> {
    const { fn } = await this.#readFunction(name);
    return fn.spec.aliases ?? [];
  }

  async putAlias(name: string, input: AliasInput, mode: 'create' | 'update' | 'put'): Promise<Alias> {
    return this.#editAliases(name, async (fn, wireAliases, uid) => {
      // The Function was just read: only its versions are listed again.
      const published = versionNumbers(ownVersions(await this.#listVersionObjects(name), uid));
      const change = changeAlias(fn, published, input, mode);
      // The other aliases are written back as they were stored; only the one changed takes the schema's form.
      const next = [...wireAliases];
      next.splice(change.index, change.existed ? 1 : 0, { ...change.alias });
      return { aliases: next, result: change.alias };
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.#editAliases(name, async (fn, wireAliases) => {
      const { index } = removeAlias(fn, alias);
      return { aliases: wireAliases.filter((_, i) => i !== index), result: undefined };
    });
  }

  /** Reads the Function, lets `edit` compute its new aliases, and writes them if the Function did not change meanwhile (else again). */
  async #editAliases<T>(name: string, edit: (fn: HearthFunction, wireAliases: Record<string, unknown>[], uid: string) => Promise<{ aliases: Record<string, unknown>[]; result: T }>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { wire, fn } = await this.#readFunction(name);
      const { aliases, result } = await edit(fn, wire.spec?.aliases ?? [], wire.metadata?.uid ?? '');
      // A merge patch replaces the list whole; null removes the field.
      const written = await this.#patchIfUnchanged(resourcePath(RESOURCES.Function, this.#ns, name), { metadata: { resourceVersion: wire.metadata?.resourceVersion }, spec: { aliases: aliases.length > 0 ? aliases : null } }, attempt, `function ${name}`);
      if (!written) continue;
      this.#log?.info({ function: name, aliases: aliases.map((a) => a['name']) }, 'aliases changed');
      return result;
    }
  }

  /**
   * A merge patch guarded by the resourceVersion it carries. False when
   * someone wrote first and another try is allowed (after a short wait):
   * the caller reads again and recomputes.
   */
  async #patchIfUnchanged(path: string, body: object, attempt: number, what: string): Promise<boolean> {
    try {
      await this.#rest.request('PATCH', path, { body, contentType: CONTENT_MERGE });
      return true;
    } catch (err) {
      if (!isStatus(err, 409) || attempt >= this.#maxAttempts) throw storeErrorOf(err, what);
      await backoff(attempt);
      return false;
    }
  }

  async #readFunction(name: string, opts: { validate?: boolean } = {}): Promise<{ wire: FunctionWire; fn: HearthFunction }> {
    let wire: FunctionWire;
    try {
      wire = await this.#rest.request<FunctionWire>('GET', resourcePath(RESOURCES.Function, this.#ns, name));
    } catch (err) {
      throw storeErrorOf(err, `function ${name}`);
    }
    if (opts.validate === false) return { wire, fn: wire as unknown as HearthFunction };
    // Status is the controller's; what the store needs is the spec, with the schema's defaults.
    const result = validateFunction({ ...wire, status: undefined });
    if (!result.ok) throw new StoreError('invalid', `function ${name} is invalid`, result.problems);
    return { wire, fn: result.value };
  }

  /** Every FunctionVersion labelled as a version of NAME (those of an earlier Function of the same name too, until garbage collection removes them). */
  async #listVersionObjects(name: string): Promise<FunctionVersion[]> {
    const list = await this.#rest.request<{ items?: unknown[] }>('GET', resourcePath(RESOURCES.FunctionVersion, this.#ns), { query: { labelSelector: versionsOfSelector(name) } });
    const out: FunctionVersion[] = [];
    for (const item of list.items ?? []) {
      const v = parseVersion(item);
      if (v === undefined) {
        this.#log?.warn({ function: name, object: (item as { metadata?: WireMeta }).metadata?.name }, 'ignoring an invalid FunctionVersion');
        continue;
      }
      if (v.spec.function === name) out.push(v);
    }
    return out;
  }

  async #readConfigMap(name: string): Promise<ConfigMapContent | undefined> {
    try {
      const cm = await this.#rest.request<ConfigMapContent>('GET', resourcePath(RESOURCES.ConfigMap, this.#ns, name));
      return { ...(cm.data !== undefined ? { data: cm.data } : {}), ...(cm.binaryData !== undefined ? { binaryData: cm.binaryData } : {}) };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /**
   * The versions plus version `counter` if it is not among them yet and
   * appears within inFlightWaitMs: another publisher took that number and
   * is creating it. A publisher creates its version one request after
   * taking the number, so the wait is that long; only when the number's
   * version is gone for good (deleted, or its publisher died in between)
   * does a publish wait it out, once: the next version closes the gap.
   */
  async #withInFlight(name: string, uid: string, counter: number, own: FunctionVersion[]): Promise<FunctionVersion[]> {
    if (counter === 0 || own.some((v) => Number(v.spec.version) >= counter)) return own;
    const objectName = versionObjectName(name, String(counter));
    const deadline = Date.now() + this.#inFlightWaitMs;
    for (;;) {
      try {
        const v = parseVersion(await this.#rest.request('GET', resourcePath(RESOURCES.FunctionVersion, this.#ns, objectName)));
        return v !== undefined && v.spec.function === name && ownedBy(v, uid) ? [...own, v] : own;
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
      // Deleted since, or its publisher died between the number and the object: nothing to wait for.
      if (Date.now() >= deadline) return own;
      await sleep(50);
    }
  }

  /**
   * Creates the FunctionVersion, then its ConfigMap copies owned by it.
   * That order, rather than copies first and their owner set afterwards,
   * means every copy is owned from birth (nothing can outlive its version,
   * whatever fails) and the gateway needs only get/create on ConfigMaps, not
   * patch. For the moment between the two, a pod the controller starts for
   * the version waits for its ConfigMap volume, as the kubelet does; if a
   * copy cannot be made, the version is deleted again and the number stays
   * used (numbers are never reused).
   */
  async #createVersion(v: {
    name: string;
    uid: string;
    n: string;
    digest: string;
    snapshot: HearthFunction['spec'];
    description: string | undefined;
    copies: { ref: ReturnType<typeof configMapRefs>[number]; content: ConfigMapContent }[];
  }): Promise<FunctionVersion> {
    const objectName = versionObjectName(v.name, v.n);
    const body = {
      apiVersion: RESOURCES.FunctionVersion.apiVersion,
      kind: VERSION_KIND,
      metadata: {
        name: objectName,
        namespace: this.#ns,
        labels: versionLabels(v.name, v.n),
        // No blockOwnerDeletion: setting it needs update on functions/finalizers where OwnerReferencesPermissionEnforcement is on, and nothing here needs foreground deletion.
        ownerReferences: [{ apiVersion: RESOURCES.Function.apiVersion, kind: RESOURCES.Function.kind, name: v.name, uid: v.uid, controller: true }],
      },
      spec: { function: v.name, version: v.n, ...(v.description !== undefined ? { description: v.description } : {}), codeSha256: v.digest, snapshot: withCopies(v.snapshot, objectName) },
    };
    let created: unknown;
    try {
      created = await this.#rest.request('POST', resourcePath(RESOURCES.FunctionVersion, this.#ns), { body });
    } catch (err) {
      throw storeErrorOf(err, `version ${v.n} of function ${v.name}`);
    }
    const uid = (created as { metadata?: WireMeta }).metadata?.uid ?? '';
    try {
      for (const { ref, content } of v.copies) {
        await this.#rest.request('POST', resourcePath(RESOURCES.ConfigMap, this.#ns), {
          body: {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: copyName(objectName, ref),
              namespace: this.#ns,
              labels: versionLabels(v.name, v.n),
              ownerReferences: [{ apiVersion: RESOURCES.FunctionVersion.apiVersion, kind: VERSION_KIND, name: objectName, uid, controller: true }],
            },
            // The kubelet stops watching an immutable ConfigMap, and no one can change a version's code through it.
            immutable: true,
            ...content,
          },
        });
      }
    } catch (err) {
      await this.#rest.request('DELETE', resourcePath(RESOURCES.FunctionVersion, this.#ns, objectName), { body: { propagationPolicy: 'Background' } }).catch((e: unknown) => {
        this.#log?.warn({ err: e, function: v.name, version: v.n }, 'could not delete a version whose code could not be copied');
      });
      throw storeErrorOf(err, `the code of version ${v.n} of function ${v.name}`);
    }
    const parsed = parseVersion(created);
    if (parsed === undefined) throw new Error(`the API server answered version ${v.n} of ${v.name} with an object the FunctionVersion schema refuses`);
    return parsed;
  }
}

/** A Function as the API server sends it, whole: what the function methods read. */
interface StoredWire extends ObservedWire {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: { time?: string; subresource?: string }[];
  } & Record<string, unknown>;
  spec?: Record<string, unknown>;
  status?: ObservedWire['status'] & Record<string, unknown>;
}

function isDeleting(wire: StoredWire): boolean {
  return wire.metadata?.deletionTimestamp !== undefined && wire.metadata.deletionTimestamp !== null;
}

/** The document the schema judges: the user's part of the object (no server metadata, no status), as the controller's checkFunction takes it. */
function userDocument(wire: StoredWire, spec: unknown): unknown {
  const md = wire.metadata ?? {};
  return {
    apiVersion: wire.apiVersion,
    kind: wire.kind,
    metadata: {
      name: md.name,
      ...(md.namespace !== undefined ? { namespace: md.namespace } : {}),
      ...(md.labels !== undefined ? { labels: md.labels } : {}),
      ...(md.annotations !== undefined ? { annotations: md.annotations } : {}),
    },
    spec,
  };
}

/**
 * When the Function's spec or metadata was last written: the newest time
 * among its managed fields, leaving out those of subresources (the
 * controller's status writes are not changes of the function), else when it
 * was created.
 */
export function lastModifiedOf(metadata: StoredWire['metadata']): string | undefined {
  const times = (metadata?.managedFields ?? []).filter((f) => f.subresource === undefined || f.subresource === '').map((f) => Date.parse(f.time ?? ''));
  const created = Date.parse(metadata?.creationTimestamp ?? '');
  const newest = Math.max(...times.filter((t) => !Number.isNaN(t)), Number.isNaN(created) ? -Infinity : created);
  return Number.isFinite(newest) ? new Date(newest).toISOString() : undefined;
}

/** The StoredFunction of an object from the API server: validated (invalid if the schema refuses it), its resourceVersion the revision, its status the observation. */
function storedOf(wire: StoredWire): StoredFunction {
  const name = wire.metadata?.name ?? '';
  const checked = validateFunction(userDocument(wire, wire.spec));
  if (!checked.ok) throw new StoreError('invalid', `function ${name} as stored is invalid: ${describeProblems(checked.problems)}`, checked.problems);
  const md = wire.metadata ?? {};
  const fn = checked.value;
  // What the API server adds that a reader may show: identity, generation, creation time (not managedFields).
  fn.metadata = {
    ...fn.metadata,
    ...(md.uid !== undefined ? { uid: md.uid } : {}),
    ...(md.resourceVersion !== undefined ? { resourceVersion: md.resourceVersion } : {}),
    ...(md.generation !== undefined ? { generation: md.generation } : {}),
    ...(md.creationTimestamp !== undefined ? { creationTimestamp: md.creationTimestamp } : {}),
  };
  const status = FunctionStatusSchema.safeParse(wire.status);
  if (status.success && status.data !== undefined) fn.status = status.data;
  const lastModified = lastModifiedOf(md);
  return { fn, revision: md.resourceVersion ?? '', ...(lastModified !== undefined ? { lastModified } : {}), observation: clusterObservation(wire) };
}

/** A mapping from the API server, its status left out (the gateways write it; the API answers from the runner's), or undefined when the schema refuses it. */
function mappingOf(wire: StoredWire): StoredMapping | undefined {
  const md = wire.metadata ?? {};
  const parsed = EventSourceMappingSchema.safeParse({ ...(userDocument(wire, wire.spec) as Record<string, unknown>), metadata: { name: md.name, namespace: md.namespace } });
  if (!parsed.success) return undefined;
  const lastModified = lastModifiedOf(md);
  return { mapping: parsed.data, revision: md.resourceVersion ?? '', ...(lastModified !== undefined ? { lastModified } : {}) };
}

function counterOf(wire: FunctionWire): number {
  const n = Number(wire.status?.latestVersion ?? '0');
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** A version whose owner is another Function of the same name (deleted and made again) is not this one's. */
/** The versions of the Function with this uid (not those an earlier Function of the same name left), oldest first. */
function ownVersions(listed: readonly FunctionVersion[], uid: string): FunctionVersion[] {
  return listed.filter((v) => ownedBy(v, uid)).sort((a, b) => Number(a.spec.version) - Number(b.spec.version));
}

function ownedBy(v: FunctionVersion, uid: string): boolean {
  const owners = ((v.metadata as WireMeta).ownerReferences ?? []).filter((o) => o.kind === RESOURCES.Function.kind);
  return owners.length === 0 || owners.some((o) => o.uid === uid);
}

/** A FunctionVersion from the wire; a status the schema does not know is dropped rather than the version. */
export function parseVersion(obj: unknown): FunctionVersion | undefined {
  const whole = FunctionVersionSchema.safeParse(obj);
  if (whole.success) return whole.data;
  const specOnly = FunctionVersionSchema.safeParse({ ...(obj as Record<string, unknown>), status: undefined });
  return specOnly.success ? specOnly.data : undefined;
}

/** A short random wait, longer each try, so racing writers spread out. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.floor(Math.random() * 20 * attempt));
}
