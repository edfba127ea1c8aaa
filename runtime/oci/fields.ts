import { InvalidArgumentError } from '../base/errors.js';

/**
 * The error of a notation parser or a check across fields: `field: reason`,
 * with `field` set. The request's shape (types, unknown keys) is checked by
 * its schema (request.ts, runtime/base/schema.ts), not here.
 */
export function bad(field: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${reason}`, { field });
}
