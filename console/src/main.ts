// The console's shell: the API key form and a hash router over three pages
// (the functions list, Create function, one function's page).
import { apiKey, setApiKey, UNAUTHORIZED_EVENT } from './api';
import './style.css';
import { renderCreate } from './views/create';
import { renderFunction } from './views/function';
import { renderList } from './views/list';

const main = document.getElementById('main') as HTMLElement;
const keyForm = document.getElementById('key-form') as HTMLFormElement;
const keyInput = document.getElementById('api-key') as HTMLInputElement;
const keyStatus = document.getElementById('key-status') as HTMLElement;

keyInput.value = apiKey();
keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  setApiKey(keyInput.value.trim());
  keyStatus.textContent = keyInput.value.trim() === '' ? 'No API key: calls go without credentials.' : 'API key kept for this tab only.';
  void route();
});
window.addEventListener(UNAUTHORIZED_EVENT, () => {
  keyStatus.textContent = apiKey() === '' ? 'This gateway needs an API key: enter it above.' : 'The gateway did not accept this API key.';
  keyStatus.classList.add('warn');
  keyInput.focus();
});

/** What the current page stops when another replaces it (timers). */
let leave: (() => void) | undefined;

async function route(): Promise<void> {
  leave?.();
  leave = undefined;
  keyStatus.classList.remove('warn');
  const hash = location.hash.replace(/^#/, '') || '/';
  const fn = /^\/functions\/([^/]+)$/.exec(hash);
  main.replaceChildren();
  if (hash === '/create') leave = renderCreate(main);
  else if (fn?.[1] !== undefined) leave = renderFunction(main, decodeURIComponent(fn[1]));
  else leave = renderList(main);
  // Moving between pages moves focus to the new page's heading, as a page load would.
  const heading = main.querySelector('h1');
  if (heading instanceof HTMLElement) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

window.addEventListener('hashchange', () => void route());
void route();
