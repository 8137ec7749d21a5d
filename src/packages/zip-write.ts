// Writes a deployment package. Deterministic: entries in the order given
// (collectTree sorts them), one fixed timestamp, so the same tree always
// yields the same bytes and therefore the same digest, which is what the
// caches and `hearth deploy` key on. Packages are at most 50 MB, so neither
// ZIP64 nor streaming is needed: each file is deflated in memory.
import { readFile } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';
import type { PackEntry } from './collect.js';
import { LAMBDA_LIMITS, type PackageLimits } from './limits.js';

/** 1980-01-01 00:00, the earliest DOS date: no build time leaks into the digest. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
const UTF8_NAMES = 0x800;
const MADE_BY_UNIX = (3 << 8) | 20;

export async function writeZip(entries: readonly PackEntry[], limits: PackageLimits = LAMBDA_LIMITS): Promise<Buffer> {
  // Without ZIP64 a central directory counts at most 65535 entries.
  if (entries.length > 0xffff) throw new Error(`${entries.length} files are more than a package without ZIP64 holds (65535)`);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.kind === 'directory' ? `${e.name}/` : e.name, 'utf8');
    let data: Buffer;
    let mode: number;
    if (e.kind === 'file') {
      data = await readFile(e.path);
      mode = 0o100000 | e.mode;
    } else if (e.kind === 'symlink') {
      data = Buffer.from(e.target, 'utf8');
      mode = 0o120777;
    } else {
      data = Buffer.alloc(0);
      mode = 0o040755;
    }
    const deflated = e.kind === 'file' && data.length > 0 ? deflateRawSync(data, { level: 9 }) : undefined;
    // Stored when deflate does not help (already-compressed files), and always for links and directories.
    const method = deflated !== undefined && deflated.length < data.length ? 8 : 0;
    const body = method === 8 && deflated !== undefined ? deflated : data;
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(UTF8_NAMES, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(MADE_BY_UNIX, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(UTF8_NAMES, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(DOS_TIME, 12);
    cd.writeUInt16LE(DOS_DATE, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    // MS-DOS directory attribute in the low byte, st_mode in the high half.
    cd.writeUInt32LE(((mode << 16) | (e.kind === 'directory' ? 0x10 : 0)) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cd, name);
    offset += local.length + name.length + body.length;
    if (offset > limits.zippedBytes) throw new Error(`the package would be larger than ${limits.zippedBytes} bytes zipped, Lambda's limit`);
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  const zip = Buffer.concat([...parts, cdBytes, end]);
  if (zip.length > limits.zippedBytes) throw new Error(`the package is ${zip.length} bytes, more than ${limits.zippedBytes} bytes zipped, Lambda's limit`);
  return zip;
}
