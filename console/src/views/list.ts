// The functions list: state, runtime, latest version, aliases, instances and
// recent errors (the last hour of this gateway's metrics).
import { errorText, fnPath, getJson, type AliasConfiguration, type FunctionConfiguration } from '../api';
import { h, statusLine } from '../dom';

interface Summary {
  instances: number;
  invocations: number;
  errors: number;
  throttles: number;
  deadLetters: number;
}

const REFRESH_MS = 5_000;

async function listFunctions(): Promise<FunctionConfiguration[]> {
  const out: FunctionConfiguration[] = [];
  let marker: string | undefined;
  // Every page; bounded so a misbehaving marker cannot loop forever.
  for (let page = 0; page < 100; page++) {
    const q = marker !== undefined ? `?Marker=${encodeURIComponent(marker)}` : '';
    const res = await getJson<{ Functions: FunctionConfiguration[]; NextMarker?: string }>(`/2015-03-31/functions${q}`);
    out.push(...res.Functions);
    if (!res.NextMarker) break;
    marker = res.NextMarker;
  }
  return out;
}

function latestVersion(versions: FunctionConfiguration[]): string {
  const nums = versions.map((v) => Number(v.Version)).filter((n) => Number.isInteger(n));
  return nums.length === 0 ? '-' : String(Math.max(...nums));
}

function aliasText(aliases: AliasConfiguration[]): string {
  if (aliases.length === 0) return '-';
  return aliases
    .map((a) => {
      const extra = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {}).map(([v, w]) => `+${v}@${Math.round(w * 100)}%`);
      return `${a.Name}=${a.FunctionVersion}${extra.join('')}`;
    })
    .join(' ');
}

export function renderList(main: HTMLElement): () => void {
  const status = statusLine();
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'functions' },
    h('caption', { class: 'sr-only' }, 'Functions'),
    h('thead', {}, h('tr', {}, ...['Name', 'State', 'Runtime', 'Version', 'Aliases', 'Instances', 'Errors (1 h)', 'Last modified'].map((c) => h('th', { scope: 'col' }, c)))),
    body,
  );
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Functions'), h('a', { class: 'button primary', href: '#/create' }, 'Create function')),
    status,
    h('div', { class: 'table-wrap' }, table),
  );

  let stopped = false;
  const load = async () => {
    try {
      const fns = await listFunctions();
      const summaries = await getJson<{ functions: Record<string, Summary> }>('/metrics/history')
        .then((r) => r.functions)
        // A caller not allowed every function reads no history: its columns say '-' rather than a made-up 0.
        .catch(() => undefined);
      const details = await Promise.all(
        fns.map(async (f) => {
          const [versions, aliases] = await Promise.all([
            getJson<{ Versions: FunctionConfiguration[] }>(`${fnPath(f.FunctionName)}/versions`).then((r) => r.Versions).catch(() => []),
            getJson<{ Aliases: AliasConfiguration[] }>(`${fnPath(f.FunctionName)}/aliases`).then((r) => r.Aliases).catch(() => []),
          ]);
          return { versions, aliases };
        }),
      );
      if (stopped) return;
      body.replaceChildren(
        ...fns.map((f, i) => {
          const s = summaries === undefined ? undefined : (summaries[f.FunctionName] ?? { instances: 0, invocations: 0, errors: 0, throttles: 0, deadLetters: 0 });
          const d = details[i];
          return h(
            'tr',
            { 'data-function': f.FunctionName },
            h('th', { scope: 'row' }, h('a', { href: `#/functions/${encodeURIComponent(f.FunctionName)}` }, f.FunctionName)),
            h('td', {}, h('span', { class: `state state-${(f.State ?? 'unknown').toLowerCase()}` }, f.State ?? '-')),
            h('td', {}, f.Runtime ?? (f.PackageType === 'Image' ? 'image' : '-')),
            h('td', {}, d ? latestVersion(d.versions) : '-'),
            h('td', {}, d ? aliasText(d.aliases) : '-'),
            h('td', { class: 'num' }, s ? s.instances : '-'),
            h('td', { class: `num${s && s.errors > 0 ? ' bad' : ''}` }, s ? s.errors : '-'),
            h('td', {}, f.LastModified ?? '-'),
          );
        }),
      );
      status.textContent = fns.length === 0 ? 'No functions yet: create one.' : `${fns.length} function${fns.length === 1 ? '' : 's'}.`;
    } catch (err) {
      if (!stopped) status.textContent = `Could not list functions: ${errorText(err)}`;
    }
  };
  void load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
