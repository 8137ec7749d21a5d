// Create function, as the Lambda guide does it: a name, a runtime, code typed
// in the editor (sent as a one-file ZIP) or a .zip uploaded, then "Create
// function" (CreateFunction with ZipFile).
import { errorText, sendJson, type FunctionConfiguration } from '../api';
import { field, h, statusLine } from '../dom';
import { functionNameProblem, RUNTIME_CHOICES, runtimeChoice } from '../templates';
import { buildZip, toBase64 } from '../zip';

export function renderCreate(main: HTMLElement): () => void {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 63 });
  const runtime = h('select', { name: 'runtime' }, ...RUNTIME_CHOICES.map((r) => h('option', { value: r.id }, r.label)));
  runtime.value = 'python3.12';
  const handler = h('input', { name: 'handler', value: runtimeChoice('python3.12')?.handler ?? '' });
  const memory = h('input', { name: 'memory', type: 'number', min: 128, max: 10240, value: 128 });
  const timeout = h('input', { name: 'timeout', type: 'number', min: 1, max: 900, value: 3 });
  const fromEditor = h('input', { type: 'radio', name: 'source', value: 'editor', checked: true, id: 'source-editor' });
  const fromZip = h('input', { type: 'radio', name: 'source', value: 'zip', id: 'source-zip' });
  const zipFile = h('input', { type: 'file', accept: '.zip,application/zip', name: 'zip' });
  const editorBox = h('div', { class: 'editor', id: 'create-editor' });
  const status = statusLine();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create function');
  const zipField = field('.zip file', zipFile, 'A deployment package, as Lambda takes it (at most 50 MB).');
  zipField.hidden = true;

  const form = h(
    'form',
    { class: 'create', novalidate: true },
    h('h1', {}, 'Create function'),
    h('p', {}, 'Author a function from scratch: Lambda\'s hello world, which you can edit before creating it.'),
    h('fieldset', {}, h('legend', {}, 'Basic information'), field('Function name', name, 'Lowercase letters, digits and hyphens.'), field('Runtime', runtime), field('Handler', handler, 'FILE.FUNCTION: the file of the code below and the function Lambda calls.')),
    h('fieldset', {}, h('legend', {}, 'Settings'), h('div', { class: 'row' }, field('Memory (MB)', memory), field('Timeout (seconds)', timeout))),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Code'),
      h('div', { class: 'radios' }, h('label', { for: 'source-editor' }, fromEditor, ' Write code in the editor'), h('label', { for: 'source-zip' }, fromZip, ' Upload a .zip file')),
      zipField,
      editorBox,
    ),
    h('div', { class: 'actions' }, submit, h('a', { class: 'button', href: '#/' }, 'Cancel')),
    status,
  );
  main.append(form);

  let editor: import('../editor').CodeEditor | undefined;
  const choice = () => runtimeChoice(runtime.value) ?? RUNTIME_CHOICES[0];
  void import('../editor').then(({ createEditor }) => {
    const c = choice();
    if (c) editor = createEditor(editorBox, c.code, c.language, `Code of ${c.file}`);
  });

  runtime.addEventListener('change', () => {
    const c = choice();
    if (!c) return;
    handler.value = c.handler;
    editor?.set(c.code);
    editor?.setLanguage(c.language);
  });
  const showSource = () => {
    zipField.hidden = !fromZip.checked;
    editorBox.hidden = fromZip.checked;
  };
  fromEditor.addEventListener('change', showSource);
  fromZip.addEventListener('change', showSource);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      const problem = functionNameProblem(name.value.trim());
      if (problem) {
        status.textContent = `Function name: ${problem}`;
        name.setAttribute('aria-invalid', 'true');
        name.focus();
        return;
      }
      name.removeAttribute('aria-invalid');
      const c = choice();
      if (!c) return;
      let zip: Uint8Array;
      if (fromZip.checked) {
        const file = zipFile.files?.[0];
        if (!file) {
          status.textContent = 'Choose a .zip file.';
          zipFile.focus();
          return;
        }
        zip = new Uint8Array(await file.arrayBuffer());
      } else {
        const file = handler.value.includes('.') ? handler.value.slice(0, handler.value.lastIndexOf('.')) + (c.language === 'python' ? '.py' : '.mjs') : c.file;
        zip = buildZip([{ name: file, data: editor?.get() ?? c.code }]);
      }
      submit.disabled = true;
      status.textContent = 'Creating…';
      try {
        const fn = name.value.trim();
        await sendJson<FunctionConfiguration>('POST', '/2015-03-31/functions', {
          FunctionName: fn,
          Runtime: c.id,
          Handler: handler.value.trim(),
          MemorySize: Number(memory.value),
          Timeout: Number(timeout.value),
          Code: { ZipFile: toBase64(zip) },
        });
        location.hash = `#/functions/${encodeURIComponent(fn)}`;
      } catch (err) {
        status.textContent = `Could not create the function: ${errorText(err)}`;
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return () => undefined;
}
