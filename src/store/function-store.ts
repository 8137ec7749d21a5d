// The one write path for functions' versions and aliases. Two homes: the
// functions directory (embedded platform: versions under
// .hearth/versions/, aliases in the Function's own YAML file) and the
// Kubernetes API (FunctionVersion objects; aliases in the Function's spec).
// The gateway's control routes, `hearth publish|alias|versions` (through
// those routes), the controller's publish-on-change and, later, the Lambda
// control-plane API and the console all write through this interface.
import type { Alias, AliasInput } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';
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

export interface FunctionStore {
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
}
