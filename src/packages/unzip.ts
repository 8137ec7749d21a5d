// Unpacks a ZIP deployment package into a directory without ever writing
// outside it. The archive is untrusted: names are checked before anything is
// created, sizes are counted from the bytes actually inflated (the central
// directory's sizes only allow an early refusal), symlinks are created last
// and checked both by their text and on the real file system, and no entry is
// ever written through a symlink. Entries other than files, directories and
// symlinks (FIFOs, devices, sockets) are refused, as are two entries with one
// name (which would let a second, unseen copy replace a reviewed file), and
// over-long names (with a reason, before the file system's ENAMETOOLONG).
// Symlinks are kept, as Lambda keeps them, only while they stay inside. Several archives may be unpacked into one
// directory in turn (layers); later ones replace earlier files.
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, realpath, symlink, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fromBuffer, type Entry, type ZipFile } from 'yauzl';
import { entryKind, fileMode, fileTypeName, linkTargetInside, parseEntryName, unixMode } from './entry-name.js';
import { PackageError } from './errors.js';
import { LAMBDA_LIMITS, MAX_LINK_TARGET_BYTES, type PackageLimits } from './limits.js';

export interface UnzipOptions {
  limits?: PackageLimits;
  /** Names the package in errors (a path, URL or ConfigMap key). */
  label?: string;
  /** Bytes already unpacked into the directory (earlier layers), counted against the same limit. */
  alreadyUnpacked?: number;
}

export interface UnzipStats {
  files: number;
  directories: number;
  symlinks: number;
  /** Bytes written, this archive only. */
  bytes: number;
}

export async function unzipInto(zip: Buffer, dest: string, opts: UnzipOptions = {}): Promise<UnzipStats> {
  const limits = opts.limits ?? LAMBDA_LIMITS;
  const label = opts.label ?? 'package';
  if (zip.length > limits.zippedBytes) {
    throw new PackageError('zipped-too-large', `${label} is ${zip.length} bytes; the limit is ${limits.zippedBytes} bytes zipped`);
  }
  await mkdir(dest, { recursive: true });
  const root = await realpath(dest);
  const zf = await openZip(zip, label);
  try {
    if (zf.entryCount > limits.entries) {
      throw new PackageError('too-many-entries', `${label} has ${zf.entryCount} entries; the limit is ${limits.entries}`);
    }
    const u = new Unpacker(root, label, limits, opts.alreadyUnpacked ?? 0);
    for await (const entry of entries(zf, label)) await u.entry(zf, entry);
    await u.createLinks();
    await assertLinksInside(root, label);
    return u.stats;
  } finally {
    zf.close();
  }
}

class Unpacker {
  readonly stats: UnzipStats = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  private readonly links: Array<{ segments: string[]; target: string }> = [];
  /** Directories known to be real directories (not symlinks), relative to the root. */
  private readonly realDirs = new Set<string>(['']);
  /** Every name this archive has given an entry (a later archive may still replace an earlier one's files). */
  private readonly seen = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly label: string,
    private readonly limits: PackageLimits,
    private total: number,
  ) {}

  async entry(zf: ZipFile, e: Entry): Promise<void> {
    const name = parseEntryName(e.fileName);
    if (!name.ok) throw new PackageError(name.reason, `${this.label}: ${name.detail}`);
    const mode = unixMode(e.versionMadeBy, e.externalFileAttributes);
    const kind = entryKind(name.directory, mode);
    const rel = name.segments.join('/');
    if (kind === 'special') throw new PackageError('special-file', `${this.label}: entry ${rel} is ${fileTypeName(mode ?? 0)}; a package holds only files, directories and symlinks`);
    if (rel !== '' && this.seen.has(rel)) throw new PackageError('duplicate-entry', `${this.label}: ${rel} appears more than once in the archive`);
    this.seen.add(rel);
    if (kind === 'directory') {
      await this.realDir(name.segments);
      this.stats.directories++;
      return;
    }
    this.reserve(e.uncompressedSize, rel);
    await this.realDir(name.segments.slice(0, -1));
    if (kind === 'symlink') {
      const target = (await readAll(await openStream(zf, e, this.label), MAX_LINK_TARGET_BYTES, `${this.label}: symlink ${rel}`)).toString('utf8');
      const inside = linkTargetInside(name.segments, target);
      if (!inside.ok) throw new PackageError('symlink-escape', `${this.label}: ${inside.detail}`);
      this.links.push({ segments: name.segments, target });
      return;
    }
    const path = join(this.root, ...name.segments);
    await this.clear(path, rel, 'file');
    const counted = this.counter(rel);
    // 'wx' fails rather than follow anything that appeared at the path since it was cleared.
    await pipeline(await openStream(zf, e, this.label), counted, createWriteStream(path, { flags: 'wx', mode: fileMode(mode) }));
    this.stats.files++;
  }

  /** Symlinks last: no file of this archive can then be written through one. */
  async createLinks(): Promise<void> {
    for (const l of this.links) {
      await this.realDir(l.segments.slice(0, -1));
      const path = join(this.root, ...l.segments);
      await this.clear(path, l.segments.join('/'), 'symlink');
      await symlink(l.target, path);
      this.stats.symlinks++;
    }
  }

  /** Early refusal from the declared size; the counter enforces the real one. */
  private reserve(declared: number, rel: string): void {
    if (this.total + declared > this.limits.unzippedBytes) {
      throw new PackageError('unzipped-too-large', `${this.label}: entry ${rel} would bring the unpacked size past ${this.limits.unzippedBytes} bytes`);
    }
  }

  private counter(rel: string): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.total += chunk.length;
        this.stats.bytes += chunk.length;
        if (this.total > this.limits.unzippedBytes) {
          cb(new PackageError('unzipped-too-large', `${this.label}: entry ${rel} inflates past the limit of ${this.limits.unzippedBytes} bytes unzipped`));
        } else cb(null, chunk);
      },
    });
  }

  /** Makes each segment a real directory, refusing any that is a symlink (which could lead anywhere). */
  private async realDir(segments: readonly string[]): Promise<void> {
    for (let i = 1; i <= segments.length; i++) {
      const rel = segments.slice(0, i).join('/');
      if (this.realDirs.has(rel)) continue;
      if (this.links.some((l) => l.segments.join('/') === rel)) {
        throw new PackageError('symlink-in-path', `${this.label}: ${segments.join('/')} lies inside the symlink ${rel}`);
      }
      const path = join(this.root, ...segments.slice(0, i));
      const st = await lstat(path).catch(() => undefined);
      if (st === undefined) await mkdir(path, { mode: 0o755 });
      else if (st.isSymbolicLink()) throw new PackageError('symlink-in-path', `${this.label}: ${segments.join('/')} lies inside the symlink ${rel}`);
      else if (!st.isDirectory()) throw new PackageError('invalid-name', `${this.label}: ${rel} is both a file and a directory`);
      this.realDirs.add(rel);
    }
  }

  /** A later archive replaces files and links of an earlier one, but never a directory. */
  private async clear(path: string, rel: string, what: string): Promise<void> {
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined) return;
    if (st.isDirectory()) throw new PackageError('invalid-name', `${this.label}: ${rel} is both a directory and a ${what}`);
    await unlink(path);
  }
}

/** Every symlink under root must resolve, on the real file system, to something inside root. */
export async function assertLinksInside(root: string, label: string): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 256) throw new PackageError('invalid-name', `${label}: directories nest deeper than 256 levels`);
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      if (d.isDirectory()) await walk(path, depth + 1);
      else if (d.isSymbolicLink()) {
        const rel = path.slice(root.length + 1);
        const resolved = await realpath(path).catch(() => undefined);
        if (resolved === undefined) {
          throw new PackageError('symlink-escape', `${label}: symlink ${rel} -> ${JSON.stringify(await readlink(path))} points at nothing inside the package`);
        }
        if (resolved !== realRoot && !resolved.startsWith(realRoot + sep)) {
          throw new PackageError('symlink-escape', `${label}: symlink ${rel} -> ${JSON.stringify(await readlink(path))} resolves outside the package`);
        }
      }
    }
  };
  await walk(root, 0);
}

function openZip(zip: Buffer, label: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    fromBuffer(zip, { lazyEntries: true, decodeStrings: true, strictFileNames: false, validateEntrySizes: true, autoClose: false }, (err, zf) => {
      if (err) reject(fromYauzl(err, label));
      else resolve(zf);
    });
  });
}

/** One entry at a time (lazyEntries), so a huge central directory is never held at once. */
async function* entries(zf: ZipFile, label: string): AsyncGenerator<Entry> {
  for (let i = 0; i < zf.entryCount; i++) {
    const e = await new Promise<Entry | undefined>((resolve, reject) => {
      const onEntry = (entry: Entry): void => {
        done();
        resolve(entry);
      };
      const onEnd = (): void => {
        done();
        resolve(undefined);
      };
      const onError = (err: Error): void => {
        done();
        reject(fromYauzl(err, label));
      };
      const done = (): void => {
        zf.off('entry', onEntry);
        zf.off('end', onEnd);
        zf.off('error', onError);
      };
      zf.on('entry', onEntry);
      zf.on('end', onEnd);
      zf.on('error', onError);
      zf.readEntry();
    });
    if (e === undefined) return;
    yield e;
  }
}

function openStream(zf: ZipFile, e: Entry, label: string): Promise<Readable> {
  if (e.isEncrypted()) return Promise.reject(new PackageError('not-a-zip', `${label}: entry ${e.fileName} is encrypted`));
  return new Promise((resolve, reject) => {
    zf.openReadStream(e, (err, stream) => {
      if (err) reject(fromYauzl(err, label));
      // yauzl's own size checks fail the stream; make them speak our language.
      else resolve(mapErrors(stream, label));
    });
  });
}

function mapErrors(stream: Readable, label: string): Readable {
  const out = new Transform({ transform: (c: Buffer, _e, cb) => cb(null, c) });
  stream.on('error', (err) => out.destroy(fromYauzl(err, label)));
  return stream.pipe(out);
}

async function readAll(stream: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      stream.destroy();
      throw new PackageError('invalid-name', `${what} has a target longer than ${max} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** yauzl checks names and sizes itself; its messages become refusals with our reasons. */
export function fromYauzl(err: Error, label: string): PackageError {
  if (err instanceof PackageError) return err;
  const m = err.message;
  if (m.startsWith('absolute path')) return new PackageError('absolute-path', `${label}: entry ${m.slice(m.indexOf(':') + 2)} is an absolute path`);
  if (m.startsWith('invalid relative path')) return new PackageError('path-traversal', `${label}: entry ${m.slice(m.indexOf(':') + 2)} climbs out of the package with ..`);
  if (m.startsWith('invalid characters in fileName')) return new PackageError('invalid-name', `${label}: ${m}`);
  if (m.includes('too many bytes in the stream')) return new PackageError('unzipped-too-large', `${label}: an entry inflates past its declared size (a zip bomb?)`);
  if (m.toLowerCase().includes('end of central directory record signature not found')) return new PackageError('not-a-zip', `${label} is not a ZIP file`);
  return new PackageError('not-a-zip', `${label} is not a valid ZIP file: ${m}`);
}
