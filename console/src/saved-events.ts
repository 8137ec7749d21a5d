// Saved test events per function, kept in the browser's localStorage as the
// Lambda console keeps them per function. Pure over a Storage-like store.

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export type SavedEvents = Record<string, string>;

const keyOf = (fn: string) => `hearth.events.${fn}`;

export function loadEvents(store: KeyValueStore, fn: string): SavedEvents {
  try {
    const doc: unknown = JSON.parse(store.getItem(keyOf(fn)) ?? '{}');
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return {};
    return Object.fromEntries(Object.entries(doc).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** Saves (or replaces) one event; the event must be JSON, as Invoke's payload is. */
export function saveEvent(store: KeyValueStore, fn: string, name: string, payload: string): SavedEvents {
  if (name.trim() === '') throw new Error('Name the event.');
  JSON.parse(payload);
  const events = { ...loadEvents(store, fn), [name.trim()]: payload };
  store.setItem(keyOf(fn), JSON.stringify(events));
  return events;
}

export function deleteEvent(store: KeyValueStore, fn: string, name: string): SavedEvents {
  const { [name]: _gone, ...rest } = loadEvents(store, fn);
  store.setItem(keyOf(fn), JSON.stringify(rest));
  return rest;
}
