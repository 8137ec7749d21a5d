// The code editor: CodeMirror 6 with Python or JavaScript. Loaded on demand
// (its own chunk), so the functions list does not wait for it. Tab is left to
// move focus, as CodeMirror's default keymap leaves it, so the keyboard can
// leave the editor; indenting is Ctrl-] / Ctrl-[.
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { Compartment } from '@codemirror/state';
import { basicSetup, EditorView } from 'codemirror';

export interface CodeEditor {
  get(): string;
  set(code: string): void;
  setLanguage(language: 'python' | 'javascript'): void;
  focus(): void;
}

export function createEditor(parent: HTMLElement, code: string, language: 'python' | 'javascript', label: string): CodeEditor {
  const lang = new Compartment();
  const support = (l: 'python' | 'javascript') => (l === 'python' ? python() : javascript());
  const view = new EditorView({
    doc: code,
    parent,
    extensions: [basicSetup, lang.of(support(language)), EditorView.contentAttributes.of({ 'aria-label': label }), EditorView.lineWrapping],
  });
  return {
    get: () => view.state.doc.toString(),
    set: (next) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next } }),
    setLanguage: (l) => view.dispatch({ effects: lang.reconfigure(support(l)) }),
    focus: () => view.focus(),
  };
}
