// What a pool pod's agent does with a specialisation (src/pools/specialization.ts):
// check the body (pure, before a byte is written), write the function's code
// into the task root and its layers into /opt with the unpacker `hearth
// unpack` uses, and hand the waiting runtime its environment line, saved
// first for a runtime container the kubelet may restart later.
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertDigest, sha256 } from '../packages/digest.js';
import { PackageError } from '../packages/errors.js';
import { LAMBDA_LIMITS } from '../packages/limits.js';
import { loadPackage, type LoadedPackage } from '../packages/source.js';
import { unzipInto } from '../packages/unzip.js';
import type { z } from 'zod';
import { SpecializationSchema, type Archive, type Specialization } from '../pools/specialization.js';
import { POOL_SAVED_AGENT_NAME, POOL_SAVED_ENV_NAME } from './pool-paths.js';

export type Checked = { ok: true; spec: Specialization } | { ok: false; message: string };

/**
 * A file name for the task root: one path component, as a ConfigMap key is
 * ([-._a-zA-Z0-9]+, at most 253 characters), and neither `.` nor `..`.
 * Inline code and a code ConfigMap's keys both arrive as such names. Pure.
 */
export function taskFileNameProblem(name: string): string | undefined {
  if (!/^[-._a-zA-Z0-9]{1,253}$/.test(name)) return `file name ${JSON.stringify(name.slice(0, 100))} is not one path component of [-._a-zA-Z0-9]`;
  if (name === '.' || name === '..') return `file name ${JSON.stringify(name)} is not a file`;
  return undefined;
}

/**
 * Standard base64 with padding. A plain character-class scan: a grouped,
 * repeated pattern overflows the regular-expression stack on a few MB. Pure.
 */
export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

function archiveProblem(a: Archive, i: number): string | undefined {
  const where = `archives[${i}]`;
  if ((a.url === undefined) === (a.zipBase64 === undefined)) return `${where}: give exactly one of url and zipBase64`;
  if (a.url !== undefined) {
    if (!/^https?:\/\//i.test(a.url)) return `${where}: only http and https URLs are fetched`;
    if (a.sha256 === undefined) return `${where}: a URL needs its sha256`;
  }
  if (a.zipBase64 !== undefined && !isBase64(a.zipBase64)) return `${where}: zipBase64 is not base64`;
  return undefined;
}

/** Parses and checks a specialisation body; nothing is written for a body that fails here. Pure. */
export function checkSpecialization(body: Buffer): Checked {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    // Not the parser's message: it quotes the body, which holds the function's environment.
    return { ok: false, message: 'the body is not JSON' };
  }
  const parsed = SpecializationSchema.safeParse(doc);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, message: `the body is not a specialisation: ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : parsed.error.message}` };
  }
  const spec = parsed.data;
  for (const [name, content] of Object.entries(spec.files ?? {})) {
    const problem = taskFileNameProblem(name);
    if (problem !== undefined) return { ok: false, message: problem };
    if (!isBase64(content)) return { ok: false, message: `file ${name}: content is not base64` };
  }
  for (const [i, a] of (spec.archives ?? []).entries()) {
    const problem = archiveProblem(a, i);
    if (problem !== undefined) return { ok: false, message: problem };
  }
  return { ok: true, spec };
}

/**
 * The runtime's one line (runtimes/README.md, warm-pool specialisation): the
 * function's environment, with the Runtime API this agent serves. Pure.
 */
export function specializationLine(env: Readonly<Record<string, string>>, runtimeApi: string): string {
  return `${JSON.stringify({ env: { ...env, AWS_LAMBDA_RUNTIME_API: runtimeApi } })}\n`;
}

export interface CodeDirs {
  taskRoot: string;
  optDir: string;
}

function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return 'a URL';
  }
}

/** Writes files, then unpacks archives in order; throws (a PackageError for a package's own fault) on the first failure. */
export async function writeCode(spec: Specialization, dirs: CodeDirs): Promise<{ files: number; archives: number; bytes: number }> {
  let bytes = 0;
  const files = Object.entries(spec.files ?? {});
  if (files.length > 0) await mkdir(dirs.taskRoot, { recursive: true });
  for (const [name, content] of files) {
    const data = Buffer.from(content, 'base64');
    // Exclusive: a name given twice, or a file already there, is not silently replaced.
    await writeFile(join(dirs.taskRoot, name), data, { mode: 0o644, flag: 'wx' });
    bytes += data.length;
  }
  const archives = spec.archives ?? [];
  for (const [i, a] of archives.entries()) {
    // A URL's query may hold a signature: errors and logs name its origin and path only.
    const label = a.url !== undefined ? shownUrl(a.url) : `archives[${i}] (${a.into === 'opt' ? 'layer' : 'package'})`;
    let zip: Buffer;
    if (a.url !== undefined) {
      // The same fetch and digest check as `hearth unpack`'s URL sources.
      let loaded: LoadedPackage | undefined;
      try {
        loaded = await loadPackage({ url: a.url, ...(a.sha256 !== undefined ? { sha256: a.sha256 } : {}) });
      } catch (err) {
        throw err instanceof Error ? new Error(err.message.split(a.url).join(label)) : err;
      }
      if (loaded === undefined) throw new PackageError('unavailable', `${label}: not found`);
      zip = loaded.bytes;
    } else {
      zip = Buffer.from(a.zipBase64 ?? '', 'base64');
      if (zip.length > LAMBDA_LIMITS.zippedBytes) throw new PackageError('zipped-too-large', `${label} is ${zip.length} bytes; the limit is ${LAMBDA_LIMITS.zippedBytes} bytes zipped`);
      assertDigest(label, sha256(zip), a.sha256);
    }
    // Function and layers count against one unzipped limit, as on Lambda.
    const stats = await unzipInto(zip, a.into === 'opt' ? dirs.optDir : dirs.taskRoot, { label, alreadyUnpacked: bytes });
    bytes += stats.bytes;
  }
  return { files: files.length, archives: archives.length, bytes };
}

async function saveBeside(fifo: string, name: string, text: string): Promise<string> {
  const saved = join(dirname(fifo), name);
  const temp = `${saved}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600, flag: 'w' });
  await rename(temp, saved);
  return saved;
}

/** Saves the line beside the FIFO (temp file + rename, mode 0600), for a runtime container started again after the claim. */
export function saveLine(fifo: string, line: string): Promise<string> {
  return saveBeside(fifo, POOL_SAVED_ENV_NAME, line);
}

/** What a restarted agent container needs to be the function's agent again: no code, no environment. */
export const SavedAgentSchema = SpecializationSchema.pick({ unit: true, functionName: true, version: true, memoryMB: true, timeoutSeconds: true, concurrency: true, logging: true });
export type SavedAgent = z.infer<typeof SavedAgentSchema>;

export function savedAgentOf(spec: Specialization): SavedAgent {
  const { unit, functionName, version, memoryMB, timeoutSeconds, concurrency, logging } = spec;
  return { unit, functionName, version, memoryMB, timeoutSeconds, concurrency, ...(logging !== undefined ? { logging } : {}) };
}

/** Saved before the line, so a line on disk always has its agent's record beside it. */
export function saveAgent(fifo: string, saved: SavedAgent): Promise<string> {
  return saveBeside(fifo, POOL_SAVED_AGENT_NAME, `${JSON.stringify(saved)}\n`);
}

/**
 * What an agent starting in a pool pod finds beside the FIFO: nothing (an
 * idle pod), the record and line of the function it was given before its
 * container restarted, or something else (a specialisation cut short, or
 * files it cannot read): then the pod can serve nothing.
 */
export async function readSaved(fifo: string): Promise<{ kind: 'none' } | { kind: 'saved'; saved: SavedAgent; line: string } | { kind: 'unreadable'; message: string }> {
  const dir = dirname(fifo);
  const read = (name: string): Promise<string | undefined> =>
    readFile(join(dir, name), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  try {
    const [record, line] = await Promise.all([read(POOL_SAVED_AGENT_NAME), read(POOL_SAVED_ENV_NAME)]);
    if (record === undefined && line === undefined) return { kind: 'none' };
    if (record === undefined || line === undefined) return { kind: 'unreadable', message: `a specialisation was cut short: ${record === undefined ? POOL_SAVED_AGENT_NAME : POOL_SAVED_ENV_NAME} is missing` };
    return { kind: 'saved', saved: SavedAgentSchema.parse(JSON.parse(record)), line };
  } catch (err) {
    return { kind: 'unreadable', message: `${POOL_SAVED_AGENT_NAME}: ${(err as Error).message}` };
  }
}

/** How long the FIFO may stay full before the line is given up (it is a few KiB; a pipe holds 64). */
const FIFO_WRITE_MS = 10_000;

/**
 * Opens the FIFO read-write and non-blocking: the open never waits for a
 * reader nor fails for want of one (ENXIO), and the line stays in the pipe
 * for as long as the returned handle is open, even if the runtime opens the
 * FIFO only afterwards. Keep the handle until the agent closes.
 */
export async function sendLine(fifo: string, line: string): Promise<{ close(): Promise<void> }> {
  const fh = await open(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    let rest = Buffer.from(line);
    const deadline = Date.now() + FIFO_WRITE_MS;
    while (rest.length > 0) {
      try {
        const { bytesWritten } = await fh.write(rest);
        rest = rest.subarray(bytesWritten);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) throw err;
        await sleep(5);
      }
    }
  } catch (err) {
    await fh.close();
    throw err;
  }
  return { close: () => fh.close() };
}
