import type { Store } from '../store.js';

/** A view draws into `root` and returns what to undo when the page moves on (streams, timers). */
export type View = (root: HTMLElement, params: URLSearchParams, store: Store, path: string[]) => () => void;
