// What the console shows of an invocation from its log tail (X-Amz-Log-Result):
// the REPORT line's duration, billed duration, memory and init duration, in
// Text format ("REPORT RequestId: … Duration: 1.23 ms …") or as the JSON
// platform.report record of Lambda's advanced logging controls. Pure.

export interface InvocationReport {
  durationMs?: number;
  billedDurationMs?: number;
  memorySizeMB?: number;
  maxMemoryUsedMB?: number;
  initDurationMs?: number;
  status?: string;
}

const TEXT_FIELDS: Array<[keyof InvocationReport, RegExp]> = [
  ['durationMs', /(?:^|\t)Duration: ([\d.]+) ms/],
  ['billedDurationMs', /Billed Duration: ([\d.]+) ms/],
  ['memorySizeMB', /Memory Size: (\d+) MB/],
  ['maxMemoryUsedMB', /Max Memory Used: (\d+) MB/],
  ['initDurationMs', /Init Duration: ([\d.]+) ms/],
];

function fromText(line: string): InvocationReport {
  const out: InvocationReport = {};
  // Fields are tab-separated after "REPORT RequestId: ID"; the first Duration is the one not preceded by "Billed " or "Init ".
  const fields = line.replace(/^REPORT RequestId: \S+/, '');
  for (const [key, re] of TEXT_FIELDS) {
    const m = re.exec(fields);
    if (m?.[1] !== undefined) (out as Record<string, number>)[key] = Number(m[1]);
  }
  const status = /Status: (\S+)/.exec(fields);
  if (status?.[1] !== undefined) out.status = status[1];
  return out;
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function fromJson(doc: Record<string, unknown>): InvocationReport | undefined {
  if (doc.type !== 'platform.report') return undefined;
  const record = doc.record;
  if (typeof record !== 'object' || record === null) return {};
  const r = record as Record<string, unknown>;
  const m = (typeof r.metrics === 'object' && r.metrics !== null ? r.metrics : {}) as Record<string, unknown>;
  const out: InvocationReport = {};
  const set = (key: keyof InvocationReport, v: unknown) => {
    const n = numberOf(v);
    if (n !== undefined) (out as Record<string, number>)[key] = n;
  };
  set('durationMs', m.durationMs);
  set('billedDurationMs', m.billedDurationMs);
  set('memorySizeMB', m.memorySizeMB);
  set('maxMemoryUsedMB', m.maxMemoryUsedMB);
  set('initDurationMs', m.initDurationMs);
  if (typeof r.status === 'string') out.status = r.status;
  return out;
}

/** The last report in the tail, or undefined when the tail (cut to 4 KB) has none. */
export function parseReport(tail: string): InvocationReport | undefined {
  let found: InvocationReport | undefined;
  for (const raw of tail.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('REPORT ')) found = fromText(line);
    else if (line.startsWith('{')) {
      try {
        const doc: unknown = JSON.parse(line);
        if (typeof doc === 'object' && doc !== null) found = fromJson(doc as Record<string, unknown>) ?? found;
      } catch {
        // An application line that merely starts with '{'.
      }
    }
  }
  return found;
}

/** Base64 (X-Amz-Log-Result) to text, UTF-8. */
export function decodeLogResult(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
