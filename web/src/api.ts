/**
 * The dashboard's calls to the agent: same origin, the session cookie sent by
 * the browser, and the session key (session-key.ts) on every call, GET
 * included (src/api/README.md, "The dashboard listener"). Errors come back as
 * the API's `{error: {code, message, field?}}` and are thrown as ApiError.
 */
import { forgetKey, KEY_HEADER, sessionKey } from './session-key.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let unauthenticated: (() => void) | undefined;

/** Called on every 401 from the agent (the session ended, or its cookie and key no longer agree). */
export function whenUnauthenticated(fn: () => void): void {
  unauthenticated = fn;
}

/** The headers every call carries: the session key, when this origin holds one. */
function authHeaders(): Record<string, string> {
  const key = sessionKey();
  return key === undefined ? {} : { [KEY_HEADER]: key };
}

/** Checks the session the cookie and key name; throws ApiError 401 when either is missing, wrong or over. */
export async function startSession(): Promise<void> {
  await call('GET', '/session');
}

/** Ends the session on the agent and forgets the key here, whatever the agent answers. */
export async function logout(): Promise<void> {
  try {
    await call('POST', '/logout');
  } finally {
    forgetKey();
  }
}

async function errorOf(r: Response): Promise<ApiError> {
  if (r.status === 401) unauthenticated?.();
  let code = r.status === 401 ? 'Unauthenticated' : 'Internal';
  let message = `${r.status} ${r.statusText}`;
  let field: string | undefined;
  try {
    const b = (await r.json()) as { error?: { code?: string; message?: string; field?: string } };
    if (b.error?.code) code = b.error.code;
    if (b.error?.message) message = b.error.message;
    field = b.error?.field;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(r.status, code, message, field);
}

export async function call<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(path, init);
  if (!r.ok) throw await errorOf(r);
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, body);

/** A path segment from a user-controlled name (container names may hold characters URLs reserve). */
export const seg = (s: string) => encodeURIComponent(s);

/** Reads an NDJSON answer (the logs of a time range) into its records, at most `max`. */
export async function ndjson<T>(path: string, max: number, signal?: AbortSignal): Promise<T[]> {
  const r = await fetch(path, {
    credentials: 'same-origin',
    headers: authHeaders(),
    ...(signal ? { signal } : {}),
  });
  if (!r.ok) throw await errorOf(r);
  const out: T[] = [];
  const reader = r.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) return out;
  let rest = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += value;
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim() !== '') out.push(JSON.parse(line) as T);
      if (out.length >= max) {
        await reader.cancel();
        return out;
      }
      nl = rest.indexOf('\n');
    }
  }
  if (rest.trim() !== '') out.push(JSON.parse(rest) as T);
  return out;
}
