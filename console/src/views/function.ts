// One function's page: test events and Invoke (result, log tail, duration,
// billed duration), its code (editor or .zip), charts, async records and the
// dead-letter queue with redrive, configuration, versions and aliases.
import { ApiError, errorText, fnPath, getJson, request, sendJson, type AliasConfiguration, type FunctionConfiguration } from '../api';
import { Charts, type HistorySeries } from '../charts';
import { clear, field, fmtMs, h, statusLine } from '../dom';
import { decodeLogResult, parseReport } from '../report';
import { deleteEvent, loadEvents, saveEvent } from '../saved-events';
import { handlerFile, runtimeChoice } from '../templates';
import { buildZip, entryBytes, listZip, toBase64 } from '../zip';

const REFRESH_MS = 5_000;

interface DeadLetter {
  id: string;
  requestId: string;
  deadLetteredAt: string;
  record: { requestContext?: { condition?: string; approximateInvokeCount?: number }; responsePayload?: unknown; responseContext?: { functionError?: string } };
}

interface InvocationRecord {
  requestId: string;
  status: string;
  attempts: number;
  updatedAt?: string;
  error?: { errorMessage?: string; errorType?: string };
}

const SENT_KEY = (fn: string) => `hearth.async.${fn}`;

function sentRequests(fn: string): string[] {
  try {
    const v: unknown = JSON.parse(sessionStorage.getItem(SENT_KEY(fn)) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function rememberRequest(fn: string, id: string): void {
  sessionStorage.setItem(SENT_KEY(fn), JSON.stringify([id, ...sentRequests(fn).filter((x) => x !== id)].slice(0, 20)));
}

async function inflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The handler's file from the function's package (GetFunction's Code.Location), or undefined when there is none to read. */
async function loadCode(cfg: FunctionConfiguration, location: string | undefined): Promise<{ file: string; code: string } | undefined> {
  const choice = runtimeChoice(cfg.Runtime);
  if (!location || !choice || !cfg.Handler) return undefined;
  const res = await fetch(location);
  if (!res.ok) return undefined;
  const zip = new Uint8Array(await res.arrayBuffer());
  const entries = listZip(zip);
  const file = handlerFile(cfg.Handler, choice.language, entries.map((e) => e.name));
  const entry = entries.find((e) => e.name === file);
  if (!entry) return undefined;
  const raw = entryBytes(zip, entry);
  const data = entry.method === 8 ? await inflateRaw(raw) : entry.method === 0 ? raw : undefined;
  return data ? { file, code: new TextDecoder().decode(data) } : undefined;
}

export function renderFunction(main: HTMLElement, name: string): () => void {
  let stopped = false;
  const timers: number[] = [];
  const charts = new Charts();
  const stateBadge = h('span', { class: 'state', id: 'fn-state' }, '…');
  const facts = h('p', { class: 'facts' });
  const pageStatus = statusLine();
  const sections = [
    ['test', 'Test'],
    ['code', 'Code'],
    ['monitor', 'Monitor'],
    ['async', 'Asynchronous invocations'],
    ['configuration', 'Configuration'],
    ['aliases', 'Versions and aliases'],
  ];
  const sectionEls = Object.fromEntries(sections.map(([id, title]) => [id, h('section', { id: `s-${id}`, 'aria-labelledby': `h-${id}` }, h('h2', { id: `h-${id}` }, title ?? ''))])) as Record<string, HTMLElement>;
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, name), stateBadge),
    facts,
    h('nav', { class: 'sections', 'aria-label': 'Sections' }, ...sections.map(([id, title]) => h('a', { href: `#/functions/${encodeURIComponent(name)}`, 'data-target': `s-${id}` }, title ?? ''))),
    pageStatus,
    ...Object.values(sectionEls),
  );
  // In-page links without leaving the hash route.
  main.querySelectorAll<HTMLAnchorElement>('nav.sections a').forEach((a) =>
    a.addEventListener('click', (e) => {
      e.preventDefault();
      const target = document.getElementById(a.dataset.target ?? '');
      target?.scrollIntoView();
      target?.querySelector('h2')?.setAttribute('tabindex', '-1');
      (target?.querySelector('h2') as HTMLElement | null)?.focus();
    }),
  );

  let config: FunctionConfiguration | undefined;
  const refreshConfig = async (): Promise<FunctionConfiguration | undefined> => {
    try {
      const got = await getJson<{ Configuration: FunctionConfiguration; Code?: { Location?: string } }>(fnPath(name));
      config = got.Configuration;
      stateBadge.textContent = config.LastUpdateStatus === 'InProgress' ? `${config.State ?? '-'}, updating` : (config.State ?? '-');
      stateBadge.className = `state state-${(config.State ?? 'unknown').toLowerCase()}`;
      facts.textContent = [config.Runtime ?? config.PackageType, config.Handler && `handler ${config.Handler}`, config.MemorySize && `${config.MemorySize} MB`, config.Timeout && `${config.Timeout} s timeout`, config.LastModified && `modified ${config.LastModified}`]
        .filter(Boolean)
        .join(' · ');
      if (config.StateReason) facts.textContent += ` · ${config.StateReason}`;
      codeLocation = got.Code?.Location;
      return config;
    } catch (err) {
      pageStatus.textContent = err instanceof ApiError && err.status === 404 ? `No function ${name}.` : `Could not read the function: ${errorText(err)}`;
      return undefined;
    }
  };
  let codeLocation: string | undefined;

  /**
   * Waits, as boto3's function_updated_v2 waiter does, until the update is
   * served (LastUpdateStatus no longer InProgress), so a message saying the
   * next invocation runs it is true; bounded at a minute.
   */
  const updated = async (done: string): Promise<string> => {
    for (let i = 0; i < 120 && !stopped; i++) {
      const c = await getJson<FunctionConfiguration>(`${fnPath(name)}/configuration`);
      if (c.LastUpdateStatus === 'Successful') {
        await refreshConfig();
        return done;
      }
      if (c.LastUpdateStatus === 'Failed') {
        await refreshConfig();
        return `The update failed: ${c.LastUpdateStatusReason ?? 'no reason given'}`;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return 'Still updating after a minute: see the function\'s state above.';
  };

  // ---- Test: saved events and Invoke ----
  const events = () => loadEvents(localStorage, name);
  const eventSelect = h('select', { name: 'saved-event' });
  const eventName = h('input', { name: 'event-name', value: 'my-event', autocomplete: 'off' });
  const payload = h('textarea', { name: 'event', rows: 6, spellcheck: 'false', class: 'mono' });
  payload.value = '{\n  "key": "value"\n}';
  const fillSaved = () => {
    const all = events();
    clear(eventSelect, h('option', { value: '' }, Object.keys(all).length === 0 ? 'No saved events' : 'Choose a saved event'), ...Object.keys(all).map((k) => h('option', { value: k }, k)));
  };
  fillSaved();
  eventSelect.addEventListener('change', () => {
    const v = events()[eventSelect.value];
    if (v !== undefined) {
      payload.value = v;
      eventName.value = eventSelect.value;
    }
  });
  const testStatus = statusLine();
  const result = h('div', { class: 'result', id: 'invoke-result', 'aria-live': 'polite' });
  // What Invoke runs: $LATEST, a published version or an alias (filled once versions and aliases are read).
  const qualifier = h('select', { name: 'qualifier' }, h('option', { value: '' }, '$LATEST'));
  const invokePath = () => `${fnPath(name)}/invocations${qualifier.value !== '' ? `?Qualifier=${encodeURIComponent(qualifier.value)}` : ''}`;
  const invokeBtn = h('button', { type: 'button', class: 'primary', id: 'invoke' }, 'Invoke');
  const invokeAsyncBtn = h('button', { type: 'button', id: 'invoke-async' }, 'Invoke asynchronously');
  const saveBtn = h('button', { type: 'button' }, 'Save event');
  const deleteBtn = h('button', { type: 'button' }, 'Delete event');
  sectionEls.test?.append(
    h('div', { class: 'row' }, field('Saved events', eventSelect), field('Event name', eventName), field('Version or alias', qualifier)),
    field('Event JSON', payload),
    h('div', { class: 'actions' }, invokeBtn, invokeAsyncBtn, saveBtn, deleteBtn),
    testStatus,
    result,
  );
  saveBtn.addEventListener('click', () => {
    try {
      saveEvent(localStorage, name, eventName.value, payload.value);
      fillSaved();
      eventSelect.value = eventName.value.trim();
      testStatus.textContent = `Saved event ${eventName.value.trim()}.`;
    } catch (err) {
      testStatus.textContent = `Not saved: ${errorText(err)}`;
    }
  });
  deleteBtn.addEventListener('click', () => {
    if (eventSelect.value === '') return;
    deleteEvent(localStorage, name, eventSelect.value);
    testStatus.textContent = `Deleted event ${eventSelect.value}.`;
    fillSaved();
  });
  const checkPayload = (): string | undefined => {
    try {
      JSON.parse(payload.value);
      return payload.value;
    } catch (err) {
      testStatus.textContent = `The event is not JSON: ${errorText(err)}`;
      payload.focus();
      return undefined;
    }
  };
  invokeBtn.addEventListener('click', () => {
    const body = checkPayload();
    if (body === undefined) return;
    void (async () => {
      invokeBtn.disabled = true;
      testStatus.textContent = 'Invoking…';
      try {
        const res = await request('POST', invokePath(), { body, headers: { 'x-amz-log-type': 'Tail', 'content-type': 'application/json' } });
        const text = await res.text();
        const fnError = res.headers.get('x-amz-function-error');
        const tail = decodeLogResult(res.headers.get('x-amz-log-result') ?? '');
        const report = parseReport(tail);
        let shown = text;
        try {
          shown = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // The function's answer as it came.
        }
        clear(
          result,
          h('h3', { class: fnError ? 'bad' : 'good' }, fnError ? `Failed (${fnError})` : 'Succeeded'),
          h(
            'dl',
            { class: 'report' },
            h('dt', {}, 'Duration'),
            h('dd', { id: 'result-duration' }, fmtMs(report?.durationMs)),
            h('dt', {}, 'Billed duration'),
            h('dd', { id: 'result-billed' }, report?.billedDurationMs !== undefined ? `${report.billedDurationMs} ms` : '-'),
            h('dt', {}, 'Memory'),
            h('dd', {}, report?.maxMemoryUsedMB !== undefined ? `${report.maxMemoryUsedMB} of ${report.memorySizeMB ?? '?'} MB` : '-'),
            ...(report?.initDurationMs !== undefined ? [h('dt', {}, 'Init duration'), h('dd', {}, fmtMs(report.initDurationMs))] : []),
            h('dt', {}, 'Request id'),
            h('dd', { class: 'mono', id: 'result-request-id' }, res.headers.get('x-amzn-requestid') ?? '-'),
            h('dt', {}, 'Version'),
            h('dd', { id: 'result-version' }, res.headers.get('x-amz-executed-version') ?? '-'),
          ),
          h('h4', {}, 'Response'),
          h('pre', { id: 'result-payload', class: 'mono', tabindex: 0 }, shown),
          h('h4', {}, 'Log tail'),
          h('pre', { id: 'result-log', class: 'mono log', tabindex: 0 }, tail || '(empty)'),
        );
        testStatus.textContent = fnError ? 'The function returned an error.' : 'Invocation succeeded.';
        void refreshCharts();
      } catch (err) {
        clear(result);
        testStatus.textContent = `Invoke failed: ${errorText(err)}`;
      } finally {
        invokeBtn.disabled = false;
      }
    })();
  });
  invokeAsyncBtn.addEventListener('click', () => {
    const body = checkPayload();
    if (body === undefined) return;
    void (async () => {
      try {
        const res = await request('POST', invokePath(), { body, headers: { 'x-amz-invocation-type': 'Event', 'content-type': 'application/json' } });
        const id = res.headers.get('x-amzn-requestid') ?? '';
        rememberRequest(name, id);
        testStatus.textContent = `Queued: request ${id} (status ${res.status}). Its record is under Asynchronous invocations.`;
        void refreshAsync();
      } catch (err) {
        testStatus.textContent = `Invoke failed: ${errorText(err)}`;
      }
    })();
  });

  // ---- Code ----
  const codeStatus = statusLine();
  const codeBox = h('div', { class: 'editor', id: 'code-editor' });
  const deployBtn = h('button', { type: 'button', class: 'primary', id: 'deploy' }, 'Deploy');
  const zipInput = h('input', { type: 'file', accept: '.zip,application/zip' });
  const uploadBtn = h('button', { type: 'button' }, 'Upload .zip');
  const codeNote = h('p', { class: 'note' });
  sectionEls.code?.append(codeNote, codeBox, h('div', { class: 'actions' }, deployBtn), field('Or upload a .zip file', zipInput), h('div', { class: 'actions' }, uploadBtn), codeStatus);
  let editor: import('../editor').CodeEditor | undefined;
  let codeFile: string | undefined;
  const updateCode = async (zip: Uint8Array) => {
    codeStatus.textContent = 'Deploying…';
    try {
      await sendJson('PUT', `${fnPath(name)}/code`, { ZipFile: toBase64(zip) });
      codeStatus.textContent = 'Updating…';
      codeStatus.textContent = await updated('Deployed: the next invocation runs the new code.');
    } catch (err) {
      codeStatus.textContent = `Could not deploy: ${errorText(err)}`;
    }
  };
  deployBtn.addEventListener('click', () => {
    if (!editor || !codeFile) return;
    void updateCode(buildZip([{ name: codeFile, data: editor.get() }]));
  });
  uploadBtn.addEventListener('click', () => {
    const f = zipInput.files?.[0];
    if (!f) {
      codeStatus.textContent = 'Choose a .zip file.';
      zipInput.focus();
      return;
    }
    void f.arrayBuffer().then((b) => updateCode(new Uint8Array(b)));
  });
  const setUpEditor = async (cfg: FunctionConfiguration) => {
    const choice = runtimeChoice(cfg.Runtime);
    if (!choice) {
      codeNote.textContent = `The editor takes Python and Node.js code; ${cfg.Runtime ?? cfg.PackageType ?? 'this function'} is deployed as a .zip or an image.`;
      deployBtn.hidden = true;
      return;
    }
    let loaded: { file: string; code: string } | undefined;
    try {
      loaded = await loadCode(cfg, codeLocation);
    } catch {
      loaded = undefined;
    }
    codeFile = loaded?.file ?? handlerFile(cfg.Handler ?? choice.handler, choice.language);
    codeNote.textContent = loaded
      ? `${codeFile}, as deployed. Deploy replaces the function's code with this one file.`
      : `This function's code cannot be read back here (inline in its manifest, or a package without ${codeFile}). Deploy replaces it with ${codeFile} as written below.`;
    const { createEditor } = await import('../editor');
    if (stopped) return;
    editor = createEditor(codeBox, loaded?.code ?? choice.code, choice.language, `Code of ${codeFile}`);
  };

  // ---- Monitor ----
  const chartsStatus = statusLine();
  sectionEls.monitor?.append(h('p', { class: 'note' }, 'This gateway\'s metrics, one point per 10 s over the last hour; the newest point is the time since the last one.'), chartsStatus, charts.el);
  const refreshCharts = async () => {
    try {
      const data = await getJson<HistorySeries>(`/metrics/history?function=${encodeURIComponent(name)}`);
      if (stopped) return;
      charts.update(data);
      chartsStatus.textContent = '';
    } catch (err) {
      chartsStatus.textContent = `No metrics: ${errorText(err)}`;
    }
  };

  // ---- Async records and dead letters ----
  const recordsBody = h('tbody');
  const dlqBody = h('tbody');
  const dlqStatus = statusLine();
  const dlqSummary = h('p', { id: 'dlq-summary' });
  const redriveBtn = h('button', { type: 'button', id: 'redrive' }, 'Redrive all');
  sectionEls.async?.append(
    h('h3', {}, 'Sent from this tab'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'records' }, h('thead', {}, h('tr', {}, ...['Request id', 'Status', 'Attempts', 'Updated'].map((c) => h('th', { scope: 'col' }, c)))), recordsBody)),
    h('h3', { id: 'dlq-heading' }, 'Dead-letter queue'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'dlq', 'aria-labelledby': 'dlq-heading' }, h('thead', {}, h('tr', {}, ...['Request id', 'Dead-lettered', 'Condition', 'Attempts', 'Error'].map((c) => h('th', { scope: 'col' }, c)))), dlqBody)),
    dlqSummary,
    h('div', { class: 'actions' }, redriveBtn),
    dlqStatus,
  );
  const refreshAsync = async () => {
    const ids = sentRequests(name);
    const records = await Promise.all(ids.map((id) => getJson<InvocationRecord>(`/invocations/${encodeURIComponent(id)}`).catch(() => undefined)));
    if (stopped) return;
    recordsBody.replaceChildren(
      ...records.map((r, i) =>
        h('tr', { 'data-request-id': ids[i] }, h('td', { class: 'mono' }, ids[i]), h('td', { class: `record-${r?.status ?? 'gone'}` }, r?.status ?? 'not found'), h('td', { class: 'num' }, r?.attempts ?? '-'), h('td', {}, r?.updatedAt ?? '-')),
      ),
    );
    try {
      const { deadLetters } = await getJson<{ deadLetters: DeadLetter[] }>(`/dlq/${encodeURIComponent(name)}`);
      if (stopped) return;
      dlqBody.replaceChildren(
        ...deadLetters.map((d) => {
          const p = d.record.responsePayload;
          const msg = typeof p === 'object' && p !== null ? String((p as Record<string, unknown>).errorMessage ?? JSON.stringify(p)) : String(p ?? '');
          return h('tr', { 'data-request-id': d.requestId }, h('td', { class: 'mono' }, d.requestId), h('td', {}, d.deadLetteredAt), h('td', {}, d.record.requestContext?.condition ?? '-'), h('td', { class: 'num' }, d.record.requestContext?.approximateInvokeCount ?? '-'), h('td', {}, msg));
        }),
      );
      dlqBody.closest('table')?.setAttribute('data-count', String(deadLetters.length));
      redriveBtn.disabled = deadLetters.length === 0;
      dlqSummary.textContent = deadLetters.length === 0 ? 'No dead letters.' : `${deadLetters.length} dead letter${deadLetters.length === 1 ? '' : 's'}: Redrive all sends them back into the queue (same request ids).`;
    } catch (err) {
      dlqStatus.textContent = `Could not read the dead-letter queue: ${errorText(err)}`;
    }
  };
  redriveBtn.addEventListener('click', () => {
    void (async () => {
      try {
        const r = await sendJson<{ redriven: number; requestIds: string[] }>('POST', `/dlq/${encodeURIComponent(name)}/redrive`, {});
        for (const id of r.requestIds) rememberRequest(name, id);
        dlqStatus.textContent = `Redrove ${r.redriven} event${r.redriven === 1 ? '' : 's'} into the queue.`;
        await refreshAsync();
      } catch (err) {
        dlqStatus.textContent = `Redrive failed: ${errorText(err)}`;
      }
    })();
  });

  // ---- Configuration ----
  const description = h('input', { name: 'description' });
  const memory = h('input', { name: 'memory', type: 'number', min: 128, max: 10240 });
  const timeout = h('input', { name: 'timeout', type: 'number', min: 1, max: 900 });
  const env = h('textarea', { name: 'env', rows: 4, class: 'mono', spellcheck: 'false', placeholder: 'KEY=value, one a line' });
  const reserved = h('input', { name: 'reserved', type: 'number', min: 0, placeholder: 'unreserved' });
  const retries = h('input', { name: 'retries', type: 'number', min: 0, max: 2 });
  const eventAge = h('input', { name: 'event-age', type: 'number', min: 60, max: 21600 });
  /** The values as read from the function, so saving sends only what changed. */
  let loaded = { retries: '', eventAge: '', reserved: '' };
  /** Whether the function has an async configuration (GetFunctionEventInvokeConfig answered one), so saving updates rather than puts it. */
  let asyncConfigured = false;
  const configStatus = statusLine();
  // Disabled until filled from the function, so nothing typed early is overwritten by the values arriving.
  const configFields = h(
    'fieldset',
    { class: 'plain', disabled: true },
    h('legend', { class: 'sr-only' }, 'Configuration'),
    field('Description', description),
    h('div', { class: 'row' }, field('Memory (MB)', memory), field('Timeout (seconds)', timeout), field('Reserved concurrency', reserved, 'Empty: none reserved.')),
    field('Environment variables', env, 'KEY=value, one a line. Variables from Secrets and ConfigMaps are kept and not shown.'),
    h('div', { class: 'row' }, field('Async retry attempts', retries, 'After a function error: 0 to 2.'), field('Maximum event age (seconds)', eventAge, '60 to 21600.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save configuration')),
  );
  const configForm = h('form', { id: 'config-form' }, configFields, configStatus);
  sectionEls.configuration?.append(configForm);
  const fillConfig = async (cfg: FunctionConfiguration) => {
    description.value = cfg.Description ?? '';
    memory.value = String(cfg.MemorySize ?? 128);
    timeout.value = String(cfg.Timeout ?? 3);
    env.value = Object.entries(cfg.Environment?.Variables ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    const c = await getJson<{ ReservedConcurrentExecutions?: number }>(`/2019-09-30/functions/${encodeURIComponent(name)}/concurrency`).catch(() => ({}) as { ReservedConcurrentExecutions?: number });
    reserved.value = c.ReservedConcurrentExecutions !== undefined ? String(c.ReservedConcurrentExecutions) : '';
    // No configuration (404) is Lambda's defaults.
    const a = await getJson<{ MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number }>(`/2019-09-25/functions/${encodeURIComponent(name)}/event-invoke-config`).then(
      (c) => ((asyncConfigured = true), c),
      () => ({}) as { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number },
    );
    retries.value = String(a.MaximumRetryAttempts ?? 2);
    eventAge.value = String(a.MaximumEventAgeInSeconds ?? 21600);
    loaded = { retries: retries.value, eventAge: eventAge.value, reserved: reserved.value };
    configFields.disabled = false;
  };
  configForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      const variables: Record<string, string> = {};
      for (const line of env.value.split('\n')) {
        if (line.trim() === '') continue;
        const at = line.indexOf('=');
        if (at <= 0) {
          configStatus.textContent = `Not KEY=value: ${line}`;
          env.focus();
          return;
        }
        variables[line.slice(0, at).trim()] = line.slice(at + 1);
      }
      try {
        // One change at a time, each served before the next: Lambda refuses an update while another is in progress.
        const saved = 'Configuration saved.';
        await sendJson('PUT', `${fnPath(name)}/configuration`, { Description: description.value, MemorySize: Number(memory.value), Timeout: Number(timeout.value), Environment: { Variables: variables } });
        let outcome = await updated(saved);
        if (outcome === saved && (retries.value !== loaded.retries || eventAge.value !== loaded.eventAge)) {
          // UpdateFunctionEventInvokeConfig keeps the destinations but needs a configuration to update; Put makes the first one.
          await sendJson(asyncConfigured ? 'POST' : 'PUT', `/2019-09-25/functions/${encodeURIComponent(name)}/event-invoke-config`, { MaximumRetryAttempts: Number(retries.value), MaximumEventAgeInSeconds: Number(eventAge.value) });
          asyncConfigured = true;
          outcome = await updated(saved);
        }
        if (outcome === saved && reserved.value !== loaded.reserved) {
          if (reserved.value === '') await request('DELETE', `/2017-10-31/functions/${encodeURIComponent(name)}/concurrency`);
          else await sendJson('PUT', `/2017-10-31/functions/${encodeURIComponent(name)}/concurrency`, { ReservedConcurrentExecutions: Number(reserved.value) });
          outcome = await updated(saved);
        }
        if (outcome === saved) loaded = { retries: retries.value, eventAge: eventAge.value, reserved: reserved.value };
        configStatus.textContent = outcome;
      } catch (err) {
        configStatus.textContent = `Not saved: ${errorText(err)}`;
      }
    })();
  });

  // ---- Versions and aliases ----
  const versionsList = h('ul', { class: 'versions' });
  const aliasesBox = h('div', { class: 'aliases' });
  const aliasStatus = statusLine();
  const publishBtn = h('button', { type: 'button' }, 'Publish new version');
  const newAlias = h('input', { name: 'alias-name', autocomplete: 'off', placeholder: 'live' });
  const newAliasVersion = h('select', { name: 'alias-version' });
  const aliasForm = h('form', { class: 'row' }, field('New alias', newAlias), field('Version', newAliasVersion), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create alias')));
  sectionEls.aliases?.append(h('h3', {}, 'Versions'), versionsList, h('div', { class: 'actions' }, publishBtn), h('h3', {}, 'Aliases'), aliasesBox, aliasForm, aliasStatus);
  const refreshAliases = async () => {
    try {
      const [{ Versions }, { Aliases }] = await Promise.all([getJson<{ Versions: FunctionConfiguration[] }>(`${fnPath(name)}/versions`), getJson<{ Aliases: AliasConfiguration[] }>(`${fnPath(name)}/aliases`)]);
      if (stopped) return;
      const published = Versions.map((v) => v.Version ?? '').filter((v) => v !== '$LATEST');
      clear(versionsList, ...Versions.map((v) => h('li', {}, h('strong', {}, v.Version ?? ''), v.Description ? ` ${v.Description}` : '', v.LastModified ? ` · ${v.LastModified}` : '')));
      clear(newAliasVersion, ...Versions.map((v) => h('option', { value: v.Version ?? '' }, v.Version ?? '')));
      const chosen = qualifier.value;
      clear(qualifier, h('option', { value: '' }, '$LATEST'), ...published.map((v) => h('option', { value: v }, `version ${v}`)), ...Aliases.map((a) => h('option', { value: a.Name }, `alias ${a.Name}`)));
      // Keeps the choice across refreshes while it still exists.
      qualifier.value = [...qualifier.options].some((o) => o.value === chosen) ? chosen : '';
      clear(aliasesBox, ...(Aliases.length === 0 ? [h('p', { class: 'note' }, 'No aliases.')] : Aliases.map((a) => aliasControl(a, published))));
    } catch (err) {
      aliasStatus.textContent = `Could not read versions: ${errorText(err)}`;
    }
  };
  const aliasControl = (a: AliasConfiguration, versions: string[]) => {
    const [extraVersion, extraWeight] = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {})[0] ?? ['', 0];
    const primary = h('select', {}, ...versions.map((v) => h('option', { value: v }, v)));
    primary.value = a.FunctionVersion;
    const second = h('select', {}, h('option', { value: '' }, 'none'), ...versions.map((v) => h('option', { value: v }, v)));
    second.value = extraVersion;
    const weight = h('input', { type: 'range', min: 0, max: 100, step: 1, value: Math.round(extraWeight * 100) });
    const weightOut = h('output', {}, `${Math.round(extraWeight * 100)}%`);
    weight.addEventListener('input', () => (weightOut.textContent = `${weight.value}%`));
    const save = h('button', { type: 'submit' }, 'Save routing');
    const form = h('form', { class: 'alias', 'data-alias': a.Name }, h('h4', {}, a.Name), h('div', { class: 'row' }, field('Version', primary), field('Additional version', second), field('Weight of the additional version', weight), weightOut), h('div', { class: 'actions' }, save));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void (async () => {
        const w = Number(weight.value) / 100;
        try {
          await sendJson('PUT', `${fnPath(name)}/aliases/${encodeURIComponent(a.Name)}`, {
            FunctionVersion: primary.value,
            RoutingConfig: { AdditionalVersionWeights: second.value !== '' && w > 0 ? { [second.value]: w } : {} },
          });
          aliasStatus.textContent = `Alias ${a.Name} saved.`;
          await refreshAliases();
        } catch (err) {
          aliasStatus.textContent = `Alias ${a.Name} not saved: ${errorText(err)}`;
        }
      })();
    });
    return form;
  };
  publishBtn.addEventListener('click', () => {
    void (async () => {
      try {
        const v = await sendJson<FunctionConfiguration>('POST', `${fnPath(name)}/versions`, {});
        aliasStatus.textContent = `Published version ${v.Version ?? '?'}.`;
        await refreshAliases();
      } catch (err) {
        aliasStatus.textContent = `Could not publish: ${errorText(err)}`;
      }
    })();
  });
  aliasForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      try {
        await sendJson('POST', `${fnPath(name)}/aliases`, { Name: newAlias.value.trim(), FunctionVersion: newAliasVersion.value });
        aliasStatus.textContent = `Alias ${newAlias.value.trim()} created.`;
        newAlias.value = '';
        await refreshAliases();
      } catch (err) {
        aliasStatus.textContent = `Could not create the alias: ${errorText(err)}`;
      }
    })();
  });

  void (async () => {
    const cfg = await refreshConfig();
    if (!cfg || stopped) return;
    await Promise.all([setUpEditor(cfg), fillConfig(cfg), refreshCharts(), refreshAsync(), refreshAliases()]);
  })();
  timers.push(
    window.setInterval(() => {
      void refreshConfig();
      void refreshCharts();
      void refreshAsync();
    }, REFRESH_MS),
  );
  return () => {
    stopped = true;
    for (const t of timers) clearInterval(t);
    charts.destroy();
  };
}
