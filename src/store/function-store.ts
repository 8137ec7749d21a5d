// The one write path for functions, their versions and aliases. Two homes:
// the functions directory (embedded platform: a Function is its YAML file,
// versions live under .hearth/versions/, aliases in the Function's own file)
// and the Kubernetes API (Function and FunctionVersion objects; aliases in
// the Function's spec). The gateway's Lambda control-plane API (and through
// it `hearth ls|get|publish|alias|versions` and the console) and the
// controller's publish-on-change all write through this interface, so an
// edit made with kubectl or a text editor is what the API reads next.
import type { Alias, AliasInput, FunctionSpecInput, HearthFunction } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';
import type { EventSourceMapping, EventSourceMappingSpecInput } from '../api/event-source-mapping.js';
import type { Problem } from '../api/validate.js';

/**
 * - `not-found`: no such function, version or alias (404 ResourceNotFoundException).
 * - `conflict`: it exists already, or is in use (409 ResourceConflictException).
 * - `invalid`: the request breaks a rule; `problems` name the fields (400 InvalidParameterValueException).
 * - `precondition`: the caller's expected digest or revision is stale (412 PreconditionFailedException).
 */
export type StoreErrorKind = 'not-found' | 'conflict' | 'invalid' | 'precondition';

export class StoreError extends Error {
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    readonly problems: readonly Problem[] = [],
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface PublishOptions {
  description?: string;
  /** Publish only if the current snapshot's digest is this one (Lambda's CodeSha256). */
  expectedDigest?: string;
}

export interface PublishResult {
  version: FunctionVersion;
  /** False when the function had not changed since its latest version, which is returned. */
  created: boolean;
}

/**
 * What the platform serving a function reports of it, beside what is
 * stored: the raw material of Lambda's State and LastUpdateStatus
 * (src/control/function-state.ts turns it into those).
 */
export interface Observation {
  /** The platform serves some revision of this function (false right after it was created). */
  served: boolean;
  /** The platform serves exactly the stored revision (its controller observed this generation, or the files loader this text). */
  current: boolean;
  /** The platform cannot run the stored revision: a short code (Lambda's StateReasonCode, e.g. InvalidZipFileException, InternalError) and why. */
  failure?: { code: string; message: string };
}

export interface StoredFunction {
  /** The Function as stored, validated, with the schema's defaults. */
  fn: HearthFunction;
  /** Changes exactly when the stored Function changes: resourceVersion in a cluster, a digest of the file's text in the directory. Lambda's RevisionId is derived from it. */
  revision: string;
  /** When the Function was last written (ISO 8601), if known. */
  lastModified?: string;
  observation: Observation;
}

export interface CreateFunctionInput {
  name: string;
  spec: FunctionSpecInput;
  /** Extra labels for metadata (the API sets none today; kept for the console). */
  labels?: Record<string, string>;
}

export interface UpdateOptions {
  /** Write only if the stored revision is still this one (Lambda's RevisionId, already mapped back); precondition otherwise. */
  expectedRevision?: string;
}

export interface FunctionStore {
  /** The function as stored (not-found if absent). */
  getFunction(name: string): Promise<StoredFunction>;
  /** Every function, by name. */
  listFunctions(): Promise<StoredFunction[]>;
  /** Creates a Function (conflict if one of that name exists; invalid with problems if the spec is not valid). */
  createFunction(input: CreateFunctionInput): Promise<StoredFunction>;
  /**
   * Reads the spec as written (without the schema's defaults filled in, so a
   * file keeps its shape), applies `edit`, validates and writes it back; a
   * concurrent writer in between is retried, a stale `expectedRevision` is a
   * precondition error. Aliases are edited through putAlias/deleteAlias.
   */
  updateFunction(name: string, edit: (spec: FunctionSpecInput) => FunctionSpecInput, opts?: UpdateOptions): Promise<StoredFunction>;
  /** Deletes the function with its versions (not-found if absent). */
  deleteFunction(name: string): Promise<void>;
  /** Takes an immutable, numbered snapshot of the function's code and configuration. */
  publishVersion(name: string, opts?: PublishOptions): Promise<PublishResult>;
  /** The function's published versions, oldest first. */
  listVersions(name: string): Promise<FunctionVersion[]>;
  /** Deletes a version; refused (conflict) while an alias points to it. */
  deleteVersion(name: string, version: string): Promise<void>;
  /** The function's aliases. */
  listAliases(name: string): Promise<Alias[]>;
  /**
   * Creates (`mode: 'create'`, conflict if it exists), replaces (`'update'`,
   * not-found if absent) or writes either way (`'put'`) an alias, checked
   * against the schema and the versions that exist.
   */
  putAlias(name: string, alias: AliasInput, mode: 'create' | 'update' | 'put'): Promise<Alias>;
  deleteAlias(name: string, alias: string): Promise<void>;
  /** Every EventSourceMapping stored (of this namespace, or the functions directory), by name. */
  listMappings(): Promise<StoredMapping[]>;
  /** Creates an EventSourceMapping (conflict if one of that name exists; invalid with problems if the spec is not valid). */
  createMapping(name: string, spec: EventSourceMappingSpecInput): Promise<StoredMapping>;
  /** Reads the mapping's spec as written, applies `edit`, validates and writes it back (not-found if absent). */
  updateMapping(name: string, edit: (spec: EventSourceMappingSpecInput) => EventSourceMappingSpecInput): Promise<StoredMapping>;
  /** Deletes the mapping (not-found if absent). */
  deleteMapping(name: string): Promise<void>;
}

/** An EventSourceMapping as stored: validated, with the schema's defaults. */
export interface StoredMapping {
  mapping: EventSourceMapping;
  /** resourceVersion in a cluster, a digest of the document in the directory. */
  revision: string;
  /** When the mapping was last written (ISO 8601), if known. */
  lastModified?: string;
}
