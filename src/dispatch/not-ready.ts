// What a caller is told when the dispatcher cannot give its call an instance:
// which error a wait that ran out becomes, and the message of a function that
// could not be started, told without the server's file paths. Pure, so every
// case is a row of a table test.

export interface WaitState {
  functionName: string;
  /** What the backend is still doing to prepare the function's code (e.g. "building Go sources"), if it is. */
  preparing: string | undefined;
  /** Instances ready to take calls (all busy, or the call would not have waited). */
  ready: number;
}

export type WaitVerdict = { kind: 'throttled' } | { kind: 'unavailable'; message: string };

/**
 * A call that waited its whole budget for a slot. With ready instances all
 * busy it is a throttle (429, retried by SDKs). With none ready because the
 * code is still being prepared, a 429 would tell the caller it is over a
 * limit it never reached: the function is not ready yet (502
 * ResourceNotReadyException), and the message says why.
 */
export function waitTimedOut(s: WaitState): WaitVerdict {
  if (s.preparing !== undefined && s.ready === 0) {
    return { kind: 'unavailable', message: `function ${s.functionName} is being prepared (${s.preparing}); retry once it is ready` };
  }
  return { kind: 'throttled' };
}

/**
 * A message for callers with every absolute path cut to its last component:
 * `/srv/fns/app.zip is not a ZIP file` becomes `app.zip is not a ZIP file`,
 * a Go build's `/home/u/.cache/hearth/local/go/1a2b/main.go:3:1` becomes
 * `main.go:3:1`. A path is a `/` not preceded by a word, `.`, `~`, `:`, `/`,
 * `-` or a quote (so URLs, relative paths and quoted archive names stay) with
 * at least two components. The full message stays in the server's log.
 */
export function withoutServerPaths(message: string): string {
  return message.replace(/(?<![\w.~:/\\"'`-])\/(?:[^\s/:"'`()<>,;]+\/)+([^\s/:"'`()<>,;]+)/g, '$1');
}
