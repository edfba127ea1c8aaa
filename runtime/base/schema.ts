import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InvalidArgumentError } from './errors.js';

/**
 * Request shapes declared once as JSON Schema (written with TypeBox) and
 * checked with ajv, by the runtime and by the API's route schemas alike.
 * A rejection is an `InvalidArgumentError` that names the field the way a
 * user reads it (`ports[0]`, `labels.a`, `healthcheck.interval`) and says
 * why, so the CLI can map the field back to the flag the user typed.
 *
 * ajv runs without coercion, defaults or removal of unknown keys: a value
 * is taken as sent or refused, never rewritten. A schema node may carry
 * `x-reason`, the reason given when that node fails anything but its type
 * (`{value}` is replaced by the offending value as JSON).
 */
export const REASON = 'x-reason';

const ajv = new Ajv({
  allErrors: false,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  verbose: true,
  strict: true,
  // `type: ['string', 'number']` for values in a notation that takes either.
  allowUnionTypes: true,
  // Patterns are JavaScript's (lookaheads in the hostname pattern), compiled with the u flag.
  unicodeRegExp: true,
});
ajv.addKeyword({ keyword: REASON, schemaType: 'string' });

/** A string that is one of `values` (a plain `enum`: one error, not one per member as with a union). */
export function StringEnum<const T extends readonly string[]>(values: T, reason?: string) {
  return Type.Unsafe<T[number]>({
    type: 'string',
    enum: [...values],
    ...(reason ? { [REASON]: reason } : {}),
  });
}

/** A value in a user's notation that may come as a string or as a number (`512m` or 536870912, `30s`, `15`). */
export function Notation(description: string) {
  return Type.Unsafe<string | number>({ type: ['string', 'number'], description });
}

/** The compiled check of one schema; ajv keeps it, so compiling the same schema object again is free. */
export function compileSchema(schema: TSchema | Record<string, unknown>): ValidateFunction {
  return ajv.compile(schema);
}

/**
 * A checker for `schema`: returns the value typed, or throws the first
 * problem as an `InvalidArgumentError`; `root` names the whole value (the
 * field of an error at the top, e.g. `request`).
 */
export function checker<T extends TSchema>(schema: T, root: string): (value: unknown) => Static<T> {
  // Compiled at the first check, not at import: ajv's first compile costs tens of milliseconds.
  let validate: ValidateFunction | undefined;
  return (value) => {
    validate ??= compileSchema(schema);
    if (validate(value)) return value as Static<T>;
    throw schemaError(validate.errors ?? [], root);
  };
}

/** The user's spelling of an ajv instance path: `/ports/0` → `ports[0]`, `/labels/a.b` → `labels.a.b`. */
export function fieldOf(instancePath: string, root: string, extra?: string | number): string {
  const parts = instancePath === '' ? [] : instancePath.slice(1).split('/');
  if (extra !== undefined) parts.push(String(extra));
  let out = '';
  for (const raw of parts) {
    const p = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^\d+$/.test(p) && out !== '') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out === '' ? root : out;
}

function typeReason(e: ErrorObject): string {
  const t = ([] as string[]).concat((e.params as { type: string | string[] }).type);
  const items = (e.parentSchema as { items?: { type?: unknown } } | undefined)?.items;
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    integer: 'an integer',
    boolean: 'true or false',
    object: 'an object',
    null: 'null',
    array: items?.type === 'string' ? 'a list of strings' : 'a list',
  };
  return `must be ${t.map((x) => names[x] ?? x).join(' or ')}`;
}

const json = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** The ajv errors of one failed check as one `InvalidArgumentError` (the outermost error of a union). */
export function schemaError(errors: ErrorObject[], root: string): InvalidArgumentError {
  // A failed anyOf reports each branch first and itself last: the union's own reason reads better.
  const e = errors.find((x) => x.keyword === 'anyOf' || x.keyword === 'oneOf') ?? errors[0];
  if (!e) return new InvalidArgumentError(`${root}: invalid`, { field: root });
  const own = (e.parentSchema as Record<string, unknown> | undefined)?.[REASON];
  let field = fieldOf(e.instancePath, root);
  let reason: string;
  switch (e.keyword) {
    case 'type':
      reason = `${typeReason(e)}, got ${json(e.data)}`;
      break;
    case 'additionalProperties': {
      field = fieldOf(e.instancePath, root, (e.params as { additionalProperty: string }).additionalProperty);
      reason = typeof own === 'string' ? own : 'unknown key';
      break;
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      field = fieldOf(e.instancePath, root, missing);
      const props = (e.parentSchema as { properties?: Record<string, Record<string, unknown>> }).properties;
      const r = props?.[missing]?.[REASON];
      reason = typeof r === 'string' ? r.replaceAll('{value}', 'undefined') : 'required';
      break;
    }
    default:
      reason =
        typeof own === 'string'
          ? own.replaceAll('{value}', json(e.data))
          : `${e.message ?? 'invalid'}, got ${json(e.data)}`;
  }
  return new InvalidArgumentError(`${field}: ${reason}`, { field });
}
