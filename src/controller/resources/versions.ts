// The controller's pure decisions about published versions: which
// FunctionVersions belong to a Function and can run, what each one's status
// and the Function's version fields say, and what an Event should tell of a
// change. The reconciler does the reading and writing.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { Condition, FunctionStatus } from '../../api/function.js';
import { FunctionVersionSpecSchema, type FunctionVersion, type FunctionVersionStatus } from '../../api/function-version.js';
import { describeProblems, problemsOf, type Problem } from '../../api/validate.js';
import { KIND } from '../../api/function.js';
import { versionObjectName } from '../../versions/units.js';
import type { Images } from './images.js';
import { observedStatus, READY, type ClaimedCounts, type StatusContext } from './status.js';
import { truncate, unsupportedReason, type FunctionObject } from './validation.js';

/** A FunctionVersion as the API server hands it over: the same untyped shape as a Function's. */
export type VersionObject = FunctionObject;

export type CheckedVersion =
  | { ok: true; version: FunctionVersion; obj: VersionObject }
  | { ok: false; reason: 'InvalidSpec' | 'UnsupportedSpec'; message: string; obj: VersionObject };

/**
 * The FunctionVersions of one Function: those whose spec names it, unless
 * another Function of that name (deleted and made again) owns them. Sorted
 * by number. Where two objects claim one number, the one named as the store
 * names it wins and the other is refused.
 */
export function versionsOfFunction(objs: readonly VersionObject[], functionName: string, functionUid: string, images: Images): CheckedVersion[] {
  const mine = objs.filter((o) => {
    if ((o.spec as { function?: unknown } | undefined)?.function !== functionName) return false;
    if (o.metadata?.deletionTimestamp !== undefined && o.metadata.deletionTimestamp !== null) return false;
    const owners = (o.metadata?.ownerReferences ?? []).filter((r) => r.kind === KIND);
    return owners.length === 0 || owners.some((r) => r.uid === functionUid);
  });
  const checked = mine.map((o) => checkVersion(o, images));
  const byNumber = new Map<string, CheckedVersion>();
  const out: CheckedVersion[] = [];
  for (const c of checked) {
    if (!c.ok) {
      out.push(c);
      continue;
    }
    const n = c.version.spec.version;
    const other = byNumber.get(n);
    const canonical = versionObjectName(functionName, n);
    if (other === undefined) {
      byNumber.set(n, c);
      continue;
    }
    const [keep, drop] = other.obj.metadata?.name === canonical ? [other, c] : [c, other];
    byNumber.set(n, keep);
    out.push({ ok: false, reason: 'InvalidSpec', message: `spec.version: version ${n} of ${functionName} is ${keep.obj.metadata?.name ?? '?'}`, obj: drop.obj });
  }
  out.push(...byNumber.values());
  return out.sort((a, b) => numberOf(a) - numberOf(b));
}

function numberOf(c: CheckedVersion): number {
  const n = Number((c.obj.spec as { version?: unknown } | undefined)?.version);
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

/** Validates a FunctionVersion's spec (filling the snapshot's defaults) and whether this cluster can run its snapshot. */
export function checkVersion(obj: VersionObject, images: Images): CheckedVersion {
  const parsed = FunctionVersionSpecSchema.safeParse(obj.spec);
  if (!parsed.success) {
    const message = problemsOf(parsed.error).map((p) => (p.path ? `spec.${p.path}: ${p.message}` : p.message)).join('; ');
    return { ok: false, reason: 'InvalidSpec', message: truncate(message), obj };
  }
  const unsupported = unsupportedReason(parsed.data.snapshot, images, 'spec.snapshot');
  if (unsupported !== undefined) return { ok: false, reason: 'UnsupportedSpec', message: unsupported, obj };
  const md = obj.metadata ?? {};
  const version: FunctionVersion = {
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'FunctionVersion',
    metadata: { name: md.name ?? '', ...(md.namespace !== undefined ? { namespace: md.namespace } : {}), ...(md.labels !== undefined ? { labels: md.labels } : {}) },
    spec: parsed.data,
  };
  return { ok: true, version, obj };
}

/** A version's status: the same readiness a Function's $LATEST reports, with the version's own selector. */
export function versionStatus(ctx: StatusContext, selector: string, desired: number, deployment: V1Deployment | undefined, pods: readonly V1Pod[], claimed?: ClaimedCounts): FunctionVersionStatus {
  const s = observedStatus(ctx, desired, deployment, pods, claimed);
  return {
    ...(s.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
    selector,
    readyInstances: s.readyInstances ?? 0,
    desiredInstances: s.desiredInstances ?? 0,
    replicas: s.replicas ?? 0,
    // A version's code never changes, so it has no rollout to report (no Updated condition).
    ...(s.conditions !== undefined ? { conditions: s.conditions.filter((c) => c.type === READY) } : {}),
  };
}

/** Ready=False for a version the controller cannot run; nothing of it is touched. */
export function refusedVersionStatus(ctx: StatusContext, selector: string, reason: 'InvalidSpec' | 'UnsupportedSpec', message: string): FunctionVersionStatus {
  const prev = ctx.previous?.conditions?.find((c) => c.type === 'Ready');
  const lastTransitionTime = prev?.status === 'False' && prev.lastTransitionTime !== undefined ? prev.lastTransitionTime : ctx.now;
  return {
    ...(ctx.generation !== undefined ? { observedGeneration: ctx.generation } : {}),
    selector,
    readyInstances: ctx.previous?.readyInstances ?? 0,
    desiredInstances: ctx.previous?.desiredInstances ?? 0,
    replicas: ctx.previous?.replicas ?? 0,
    conditions: [{ type: 'Ready', status: 'False', reason, message, lastTransitionTime, ...(ctx.generation !== undefined ? { observedGeneration: ctx.generation } : {}) }],
  };
}

export const ALIASES_VALID = 'AliasesValid';

/** AliasesValid: False, naming each alias's missing version by field path, while an alias points to a version that does not exist. */
export function aliasesCondition(ctx: StatusContext, problems: readonly Problem[]): Condition {
  const status = problems.length === 0 ? 'True' : 'False';
  const prev = ctx.previous?.conditions?.find((c) => c.type === ALIASES_VALID);
  const lastTransitionTime = prev !== undefined && prev.status === status && prev.lastTransitionTime !== undefined ? prev.lastTransitionTime : ctx.now;
  return {
    type: ALIASES_VALID,
    status,
    reason: status === 'True' ? 'VersionsExist' : 'VersionMissing',
    message: status === 'True' ? 'every alias points to a version that exists' : truncate(describeProblems(problems)),
    lastTransitionTime,
    ...(ctx.generation !== undefined ? { observedGeneration: ctx.generation } : {}),
  };
}

/** One entry of the Function's status.versions. */
export type VersionEntry = NonNullable<FunctionStatus['versions']>[number];

/** The numbers in `now` that the previous status did not list: versions published since. */
export function publishedSince(previous: FunctionStatus | undefined, now: readonly VersionEntry[]): string[] {
  const before = new Set((previous?.versions ?? []).map((v) => v.version));
  return now.filter((v) => !before.has(v.version)).map((v) => v.version);
}

/**
 * What each alias pointed to, read back from a status summary
 * (`live=2 canary=3+4@10%`, see aliasSummary), in words:
 * `1` or `1 + 10 % to 2`.
 */
export function parseAliasSummary(summary: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (summary ?? '').split(' ')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const target = part.slice(eq + 1);
    const m = /^([^+]+)\+([^@]+)@(.+)%$/.exec(target);
    out.set(part.slice(0, eq), m === null ? target : `${m[1] ?? ''} + ${m[3] ?? ''} % to ${m[2] ?? ''}`);
  }
  return out;
}

/** The aliases that changed between two summaries, as an Event tells it: `live: 1 → 1 + 10 % to 2`. */
export function aliasChanges(before: string | undefined, after: string | undefined): string[] {
  const b = parseAliasSummary(before);
  const a = parseAliasSummary(after);
  const out: string[] = [];
  for (const [name, target] of a) {
    const was = b.get(name);
    if (was === undefined) out.push(`${name}: created → ${target}`);
    else if (was !== target) out.push(`${name}: ${was} → ${target}`);
  }
  for (const [name, was] of b) if (!a.has(name)) out.push(`${name}: ${was} → deleted`);
  return out;
}
