import { InvalidArgumentError } from '../base/errors.js';

/** Type checks for untrusted request values; each error names the field. */

export function bad(field: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${reason}`, { field });
}

export function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw bad(field, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

export function strList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw bad(field, `must be a list of strings, got ${JSON.stringify(v)}`);
  return v.map((x, i) => str(x, `${field}[${i}]`));
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw bad(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function record(v: unknown, field: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw bad(field, `must be an object, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}
