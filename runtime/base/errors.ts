/**
 * The closed set of berth errors. Every module throws one of these (or wraps a
 * lower-level error in one via `cause`); the HTTP API maps the code to a status
 * at the edge, and the CLI prints `message` as is. Codes are stable strings that
 * scripts may match on: keep `ERROR_CODES` and docs in step (a test checks).
 */
export const ERROR_CODES = [
  'NotFound',
  'AlreadyExists',
  'InvalidArgument',
  'FailedPrecondition',
  'Unavailable',
  'NotImplemented',
  'Unauthenticated',
  'PermissionDenied',
  'Internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The HTTP status of each code at the API edge (src/api/README.md lists them; a test keeps it in step). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  NotFound: 404,
  AlreadyExists: 409,
  InvalidArgument: 400,
  FailedPrecondition: 412,
  Unavailable: 503,
  NotImplemented: 501,
  Unauthenticated: 401,
  PermissionDenied: 403,
  Internal: 500,
};

export class BerthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = `${code}Error`;
  }
}

function make(code: ErrorCode) {
  return class extends BerthError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
    }
  };
}

/** A named thing (container, image, service, …) does not exist. */
export class NotFoundError extends make('NotFound') {}
/** A create would overwrite a thing that exists (name clash, duplicate id). */
export class AlreadyExistsError extends make('AlreadyExists') {}
/** The caller's input is wrong; `field` names the offending key when known. */
export class InvalidArgumentError extends BerthError {
  readonly field: string | undefined;
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super('InvalidArgument', message, options);
    this.field = options?.field;
  }
}
/** The input is fine but the system is not in a state to act on it. */
export class FailedPreconditionError extends make('FailedPrecondition') {}
/** A dependency (Consul, the OCI runtime, HAProxy, a registry) cannot be reached now; retry may help. */
export class UnavailableError extends make('Unavailable') {}
/** The feature exists in the interface but not on this host or build. */
export class NotImplementedError extends make('NotImplemented') {}
/** The caller did not prove who it is (the TCP API's bearer token missing or wrong). */
export class UnauthenticatedError extends make('Unauthenticated') {}
/** The caller is known but may not do this here (the dashboard's Host, Origin and CSRF checks). */
export class PermissionDeniedError extends make('PermissionDenied') {}
/** A bug or an unexpected system failure. */
export class InternalError extends make('Internal') {}

/** The berth code of `err` or of the first error in its `cause` chain that has one. */
export function errorCode(err: unknown): ErrorCode | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur instanceof Error && !seen.has(cur)) {
    seen.add(cur);
    if (cur instanceof BerthError) return cur.code;
    cur = cur.cause;
  }
  return undefined;
}

export const isNotFound = (err: unknown): boolean => errorCode(err) === 'NotFound';
export const isAlreadyExists = (err: unknown): boolean => errorCode(err) === 'AlreadyExists';
export const isInvalidArgument = (err: unknown): boolean => errorCode(err) === 'InvalidArgument';
export const isFailedPrecondition = (err: unknown): boolean => errorCode(err) === 'FailedPrecondition';
export const isUnavailable = (err: unknown): boolean => errorCode(err) === 'Unavailable';
export const isNotImplemented = (err: unknown): boolean => errorCode(err) === 'NotImplemented';
export const isUnauthenticated = (err: unknown): boolean => errorCode(err) === 'Unauthenticated';
export const isPermissionDenied = (err: unknown): boolean => errorCode(err) === 'PermissionDenied';

/** HTTP status for an error at the API edge; anything without a berth code is a 500. */
export function httpStatus(err: unknown): number {
  return HTTP_STATUS[errorCode(err) ?? 'Internal'];
}

/** Rebuild a typed error from its wire form (`{code, message}`), e.g. in the CLI's API client. */
export function fromWire(code: string, message: string): BerthError {
  const known = (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'Internal';
  return new BerthError(known, message);
}

/** A readable message for any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
