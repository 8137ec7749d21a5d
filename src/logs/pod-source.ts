// A function's logs in a cluster: what its pods' runtime containers wrote
// (the function's stdout and stderr) and the records the agent container
// writes into the function's log (Lambda's platform.* records, in JSON
// format: each a JSON entry of the agent's with `fn` and `msg`; the agent's
// own logs are left out), read through the Kubernetes API's pod log endpoint (GET …/pods/P/log with
// timestamps, RBAC pods/log get), each line shown with the pod it came from.
// Every pod of the function (with a qualifier, of the versions it names) is
// read and their lines merged by time; following, the pod list is looked at
// again every second, so a pod started meanwhile (a scale-up, a cold start)
// is read from its first line.
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { LATEST } from '../api/function.js';
import { LABEL_FUNCTION } from '../controller/resources/names.js';
import { AGENT_CONTAINER, RUNTIME_CONTAINER } from '../controller/resources/deployment.js';
import { resourcePath, RESOURCES } from '../kube/paths.js';
import type { KubeRest } from '../kube/rest.js';
import { LABEL_MANAGED_BY, LABEL_NAME, labelSelector, MANAGED_BY, unitKeyOfLabels } from '../versions/labels.js';
import { splitUnitKey } from '../versions/units.js';
import { lastOf, mergeByTime, parseStampedLine, wanted, type LogLine } from './log-lines.js';
import { pause, type LogQuery, type LogSource } from './log-source.js';

/** How often a follower looks for new pods. */
export const POD_POLL_MS = 1_000;
/** Following, lines that arrive this soon after the start are the kept ones: they are merged by time and cut to the last N before any is shown. */
const BACKLOG_SETTLE_MS = 300;

interface PodItem {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: string | null };
  status?: { phase?: string };
}

/** Every pod of a function, whatever its version: the labels its $LATEST and version pods (and claimed pool pods) all carry. Pure. */
export function functionPodSelector(name: string): string {
  return labelSelector({ [LABEL_NAME]: name, [LABEL_MANAGED_BY]: MANAGED_BY });
}

/** The version a pod runs ($LATEST or N), from its labels; undefined for a pod of no unit. Pure. */
export function podVersion(labels: Record<string, string> | undefined): string | undefined {
  const key = unitKeyOfLabels(labels, LABEL_FUNCTION);
  return key === undefined ? undefined : splitUnitKey(key).version;
}

/** The containers of a function pod whose logs hold the function's lines. */
const CONTAINERS = [RUNTIME_CONTAINER, AGENT_CONTAINER] as const;
type Container = (typeof CONTAINERS)[number];

/**
 * One line of a container's log as the API gives it with timestamps=true (the
 * kubelet's time, then the line) as the function's line, or undefined when it
 * is not one. The runtime's lines are all the function's; of the agent's, only
 * the entries its output sink writes for the function (src/agent/output-sink.ts
 * StreamSink: `fn` and the line as `msg`). Pure.
 */
export function containerLine(raw: string, stream: string, container: Container = RUNTIME_CONTAINER): LogLine | undefined {
  const l = { ...parseStampedLine(raw), stream };
  if (container === RUNTIME_CONTAINER) return l;
  if (!l.text.startsWith('{')) return undefined;
  let entry: unknown;
  try {
    entry = JSON.parse(l.text);
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { fn, msg } = entry as { fn?: unknown; msg?: unknown };
  return typeof fn === 'string' && typeof msg === 'string' ? { ...l, text: msg } : undefined;
}

export interface PodLogSourceOptions {
  rest: Pick<KubeRest, 'request' | 'getText' | 'openStream'>;
  namespace: string;
  /** How often following looks for new pods (default POD_POLL_MS). */
  pollMs?: number;
}

export class PodLogSource implements LogSource {
  constructor(private readonly opts: PodLogSourceOptions) {}

  /** The function's pods, of the versions asked for, that have started (with `running`, that have not ended either). */
  async pods(q: Pick<LogQuery, 'functionName' | 'versions'>, running = false): Promise<string[]> {
    const list = await this.opts.rest.request<{ items: PodItem[] }>('GET', resourcePath(RESOURCES.Pod, this.opts.namespace), {
      query: { labelSelector: functionPodSelector(q.functionName) },
    });
    return list.items
      .filter((p) => {
        const v = podVersion(p.metadata?.labels);
        const phase = p.status?.phase;
        const started = phase !== 'Pending' && !(running && (phase === 'Succeeded' || phase === 'Failed'));
        return v !== undefined && (q.versions === undefined || q.versions.has(v)) && started;
      })
      .map((p) => p.metadata?.name ?? '')
      .filter((n) => n !== '');
  }

  /** What the API is asked for: the runtime's log with times, as far back as the query needs. Pure but for now(). */
  private logQuery(q: LogQuery, container: Container, follow: boolean, from?: number): Record<string, string | number | boolean | undefined> {
    const since = from ?? q.sinceMs;
    return {
      container,
      timestamps: true,
      follow: follow || undefined,
      sinceSeconds: since === undefined ? undefined : Math.max(1, Math.ceil((Date.now() - since) / 1000)),
      tailLines: from === undefined && q.lines > 0 ? q.lines : undefined,
    };
  }

  async open(q: LogQuery): Promise<AsyncIterable<LogLine>> {
    // Listed here: a refusal (RBAC without pods list) is the caller's error answer, not a cut stream.
    const pods = await this.pods(q);
    return this.read(pods, q);
  }

  private async *read(pods: string[], q: LogQuery): AsyncIterable<LogLine> {
    if (!q.follow) {
      const each = await Promise.all(pods.flatMap((p) => CONTAINERS.map((c) => this.kept(p, c, q))));
      yield* lastOf(mergeByTime(each), q.lines);
      return;
    }
    yield* this.follow(pods, q);
  }

  private async kept(pod: string, container: Container, q: LogQuery): Promise<LogLine[]> {
    let text: string;
    try {
      text = await this.opts.rest.getText(`${resourcePath(RESOURCES.Pod, this.opts.namespace, pod, 'log')}?${toSearch(this.logQuery(q, container, false))}`);
    } catch (err) {
      // A pod whose agent has not started yet, or is gone, has nothing to show.
      if (isGone(err)) return [];
      throw err;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.map((raw) => containerLine(raw, pod, container)).filter((l): l is LogLine => l !== undefined && wanted(l, LATEST, { sinceMs: q.sinceMs }));
  }

  private async *follow(initial: string[], q: LogQuery): AsyncIterable<LogLine> {
    const out = new LineChannel();
    const local = new AbortController();
    const stop = (): void => local.abort();
    q.signal.addEventListener('abort', stop, { once: true });
    // Each stream is one container of one pod, keyed `pod/container`.
    const reading = new Map<string, Promise<void>>();
    /** The time of each stream's last line shown: a stream opened again goes on after it. */
    const lastTime = new Map<string, number>();
    /** Streams opened once: opened again, they go on from the last line shown, or from when following began. */
    const opened = new Set<string>();
    const began = Date.now();
    const start = (pod: string, fresh: boolean): void => {
      for (const container of CONTAINERS) {
        const key = `${pod}/${container}`;
        if (reading.has(key)) continue;
        const after = fresh ? 0 : opened.has(key) ? (lastTime.get(key) ?? began) : undefined;
        opened.add(key);
        const done = this.stream(pod, container, q, after, local.signal, (l) => {
          if (l.timeMs !== undefined) lastTime.set(key, l.timeMs);
          out.push(l);
        })
          .catch((err: unknown) => {
            if (!isGone(err) && !local.signal.aborted) out.fail(err);
          })
          .finally(() => reading.delete(key));
        reading.set(key, done);
      }
    };
    const shown = (pod: string): boolean => CONTAINERS.some((c) => lastTime.has(`${pod}/${c}`));
    const known = new Set(initial);
    for (const pod of initial) start(pod, false);
    const poller = (async () => {
      while (!local.signal.aborted) {
        await pause(this.opts.pollMs ?? POD_POLL_MS, local.signal);
        if (local.signal.aborted) break;
        let now: string[];
        try {
          now = await this.pods(q, true);
        } catch {
          continue; // the API server away for a moment: the next round asks again
        }
        for (const pod of now) {
          // A pod first seen now started after the follow began: all of its lines are new. One seen before goes on from its last line.
          start(pod, !known.has(pod) && !shown(pod));
          known.add(pod);
        }
      }
    })();
    try {
      // The kept lines arrive first, pod by pod: shown merged by time and cut to the last N.
      await pause(BACKLOG_SETTLE_MS, local.signal);
      yield* lastOf(mergeByTime([out.takeAll()]), q.lines);
      for (;;) {
        const l = await out.next(local.signal);
        if (l === undefined) break;
        yield l;
      }
    } finally {
      local.abort();
      q.signal.removeEventListener('abort', stop);
      await poller;
      await Promise.allSettled(reading.values());
    }
  }

  /** Reads one container's log as it is written, calling `onLine` with each function line, until the stream ends or the signal aborts. */
  private async stream(pod: string, container: Container, q: LogQuery, after: number | undefined, signal: AbortSignal, onLine: (l: LogLine) => void): Promise<void> {
    const query = after === 0 ? { container, timestamps: true, follow: true } : this.logQuery(q, container, true, after);
    let res: IncomingMessage;
    try {
      res = await this.opts.rest.openStream(resourcePath(RESOURCES.Pod, this.opts.namespace, pod, 'log'), { query, signal });
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const decoder = new StringDecoder('utf8');
    let rest = '';
    try {
      for await (const chunk of res) {
        const parts = (rest + decoder.write(chunk as Buffer)).split('\n');
        rest = parts.pop() ?? '';
        for (const raw of parts) {
          const l = containerLine(raw, pod, container);
          if (l === undefined || !wanted(l, LATEST, { sinceMs: q.sinceMs })) continue;
          // Opened again after an end: what was shown before is not shown twice.
          if (after !== undefined && after > 0 && l.timeMs !== undefined && l.timeMs <= after) continue;
          onLine(l);
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      res.destroy();
    }
  }
}

function toSearch(query: Record<string, string | number | boolean | undefined>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) s.set(k, String(v));
  return s.toString();
}

/** The API's answers for a pod with no log to read (yet, or any more): 400 waiting to start, 404 gone. */
function isGone(err: unknown): boolean {
  const code = (err as { statusCode?: unknown }).statusCode;
  return code === 400 || code === 404;
}

/** Lines from several pods' readers to the one consumer, in arrival order. */
class LineChannel {
  #lines: LogLine[] = [];
  #error: unknown;
  #wake: (() => void) | undefined;

  push(l: LogLine): void {
    this.#lines.push(l);
    this.#wake?.();
  }

  fail(err: unknown): void {
    this.#error ??= err;
    this.#wake?.();
  }

  takeAll(): LogLine[] {
    const all = this.#lines;
    this.#lines = [];
    return all;
  }

  /** The next line, or undefined once the signal aborts; throws a reader's failure. */
  async next(signal: AbortSignal): Promise<LogLine | undefined> {
    for (;;) {
      if (this.#error !== undefined) throw this.#error instanceof Error ? this.#error : new Error(String(this.#error));
      const l = this.#lines.shift();
      if (l !== undefined) return l;
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#wake = undefined;
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
