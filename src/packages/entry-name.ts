// The rules an archive entry's name must follow before anything is written.
// Pure, so every way of naming a file outside the task root is tested here
// rather than discovered on disk.
import type { Refusal } from './errors.js';
import { MAX_ENTRY_PATH_BYTES, MAX_NAME_COMPONENT_BYTES } from './limits.js';

export type EntryName =
  | { ok: true; segments: string[]; directory: boolean }
  | { ok: false; reason: Refusal; detail: string };

/**
 * Splits a ZIP entry name into path segments below the root. Backslashes are
 * read as separators (old Windows tools write them), so `..\\x` is caught as
 * traversal rather than becoming a file literally named `..\\x`.
 */
export function parseEntryName(raw: string): EntryName {
  if (raw.length === 0) return { ok: false, reason: 'invalid-name', detail: 'an entry has an empty name' };
  if (raw.includes('\0')) return { ok: false, reason: 'invalid-name', detail: `entry ${JSON.stringify(raw)} contains a NUL byte` };
  const name = raw.replaceAll('\\', '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) {
    return { ok: false, reason: 'absolute-path', detail: `entry ${JSON.stringify(raw)} is an absolute path` };
  }
  const directory = name.endsWith('/');
  const segments: string[] = [];
  for (const s of name.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') return { ok: false, reason: 'path-traversal', detail: `entry ${JSON.stringify(raw)} climbs out of the package with ..` };
    segments.push(s);
  }
  // Refused here with a reason, rather than by the file system with a bare ENAMETOOLONG.
  const long = segments.find((s) => Buffer.byteLength(s) > MAX_NAME_COMPONENT_BYTES);
  if (long !== undefined) {
    return { ok: false, reason: 'name-too-long', detail: `entry ${JSON.stringify(shorten(raw))} has a name of ${Buffer.byteLength(long)} bytes; the limit is ${MAX_NAME_COMPONENT_BYTES} bytes` };
  }
  const bytes = Buffer.byteLength(segments.join('/'));
  if (bytes > MAX_ENTRY_PATH_BYTES) {
    return { ok: false, reason: 'name-too-long', detail: `entry ${JSON.stringify(shorten(raw))} has a path of ${bytes} bytes; the limit is ${MAX_ENTRY_PATH_BYTES} bytes` };
  }
  if (segments.length === 0) {
    // "./" or "/" alone names the root itself: harmless for a directory, meaningless for a file.
    return directory ? { ok: true, segments, directory } : { ok: false, reason: 'invalid-name', detail: `entry ${JSON.stringify(raw)} names no file` };
  }
  return { ok: true, segments, directory };
}

/** An over-long name shown in full would drown the message. */
function shorten(raw: string): string {
  return raw.length <= 80 ? raw : `${raw.slice(0, 40)}…${raw.slice(-30)}`;
}

/**
 * Whether a symlink at `linkSegments` pointing at `target` stays inside the
 * root, judged by its text alone. The unpacker also checks the real file
 * system afterwards, since links can chain through each other.
 */
export function linkTargetInside(linkSegments: readonly string[], target: string): { ok: true } | { ok: false; detail: string } {
  const where = linkSegments.join('/');
  if (target.length === 0 || target.includes('\0')) return { ok: false, detail: `symlink ${where} has an empty or invalid target` };
  const t = target.replaceAll('\\', '/');
  if (t.startsWith('/') || /^[A-Za-z]:/.test(t)) return { ok: false, detail: `symlink ${where} points at the absolute path ${JSON.stringify(target)}` };
  const stack = linkSegments.slice(0, -1);
  for (const s of t.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (stack.length === 0) return { ok: false, detail: `symlink ${where} -> ${target} leaves the package` };
      stack.pop();
    } else stack.push(s);
  }
  return { ok: true };
}

/** Unix mode bits from an entry made on Unix (the high 16 bits of its external attributes), or undefined. */
export function unixMode(versionMadeBy: number, externalFileAttributes: number): number | undefined {
  const hostSystem = versionMadeBy >> 8;
  // 3 = Unix, 19 = OS X (Darwin): both store st_mode in the high half.
  if (hostSystem !== 3 && hostSystem !== 19) return undefined;
  const mode = (externalFileAttributes >>> 16) & 0xffff;
  return mode === 0 ? undefined : mode;
}

export const S_IFMT = 0o170000;
export const S_IFLNK = 0o120000;
export const S_IFDIR = 0o040000;

export const S_IFREG = 0o100000;

/** `special` is a FIFO, a device or a socket: nothing a package may hold (unzip would write it as a plain file, or mknod it). */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'special';

export function entryKind(directoryByName: boolean, mode: number | undefined): EntryKind {
  const type = mode === undefined ? 0 : mode & S_IFMT;
  if (type === S_IFLNK) return 'symlink';
  if (directoryByName || type === S_IFDIR) return 'directory';
  // Type 0: only permission bits were recorded, which some tools do for plain files.
  if (type === 0 || type === S_IFREG) return 'file';
  return 'special';
}

/** What a mode's file type is, for refusals. */
export function fileTypeName(mode: number): string {
  switch (mode & S_IFMT) {
    case 0o010000:
      return 'a FIFO';
    case 0o020000:
      return 'a character device';
    case 0o060000:
      return 'a block device';
    case 0o140000:
      return 'a socket';
    case S_IFREG:
      return 'a regular file';
    case S_IFDIR:
      return 'a directory';
    case S_IFLNK:
      return 'a symlink';
    default:
      return `of unknown type ${((mode & S_IFMT) >> 12).toString(8)}`;
  }
}

/** Files keep only the owner's executable bit's meaning: never setuid, never world-writable. */
export function fileMode(mode: number | undefined): number {
  return mode !== undefined && (mode & 0o111) !== 0 ? 0o755 : 0o644;
}
