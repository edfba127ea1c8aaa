/**
 * The session key: the second secret of a dashboard session, which the
 * cookie alone never yields (src/api/README.md, "Threat model"). The login
 * redirect hands it over once, in the fragment (`/#k=KEY`); the page moves it
 * into localStorage and out of the address bar, and sends it on every API
 * request (the `X-Berth-Session-Key` header; on a WebSocket the
 * `berth.session.KEY` protocol entry).
 *
 * localStorage, not sessionStorage: both are scoped by origin, port
 * included, which is what keeps a page on another port of the same host from
 * reading it (cookies are not); localStorage is also shared by the origin's
 * tabs, so a second tab or a reload keeps working, and the key dies with the
 * session on the agent anyway (12 h, logout, restart).
 */

export const KEY_HEADER = 'x-berth-session-key';
/** The protocol the agent answers a WebSocket with; the key rides as `berth.session.KEY`. */
export const SESSION_PROTOCOL = 'berth.session';
const ITEM = 'berth.sessionKey';
/** What a key looks like (256 bits, base64url): anything else in a fragment is not ours. */
const KEY_FORM = /^[A-Za-z0-9_-]{16,128}$/;

/** When storage is refused (a browser setting), the key lives in this tab only. */
let inMemory: string | undefined;

/**
 * Takes the key from a login redirect's fragment (`#k=KEY`), keeps it, and
 * removes it from the address bar and the tab's history. Call before
 * anything reads `location.hash` as a route.
 */
export function takeKeyFromFragment(): void {
  const m = /^#k=(.*)$/.exec(location.hash);
  if (!m) return;
  const key = m[1] ?? '';
  // Replaced in history whatever it holds: a key must not stay in the address bar.
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  if (KEY_FORM.test(key)) store(key);
}

/** The key this origin holds, or undefined (storage cleared, another browser). */
export function sessionKey(): string | undefined {
  try {
    return localStorage.getItem(ITEM) ?? inMemory;
  } catch {
    return inMemory;
  }
}

/** Forgets the key (logout). */
export function forgetKey(): void {
  inMemory = undefined;
  try {
    localStorage.removeItem(ITEM);
  } catch {
    // storage refused: nothing was kept there
  }
}

function store(key: string): void {
  inMemory = key;
  try {
    localStorage.setItem(ITEM, key);
  } catch {
    // storage refused: this tab still works, with inMemory
  }
}
