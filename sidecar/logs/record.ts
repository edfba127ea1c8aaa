import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../runtime/base/errors.js';
import { formatTime, isCanonical, parseCanonical, parseTime } from '../../runtime/base/rfc3339.js';

/**
 * The pure half of log shipping: turning one container output line into the
 * record a Fluentd receives. Nothing here touches a file or a socket, so a
 * test calls it directly (as Fluent Bit's formatters are tested).
 *
 * The record follows Docker's fluentd logging driver so existing Fluentd
 * configs and dashboards keep working:
 *   container_id (64 hex), container_name (no leading slash), source
 *   (stdout|stderr), log, plus berth's image, image_tag, host, time (UTC RFC
 *   3339 with nanoseconds), allow-listed labels and env at top level, and
 *   Docker's partial metadata for lines split at the size limit.
 */

/** What the formatter needs to know about a container (a subset of ContainerDescriptor). */
export interface ContainerMeta {
  id: string;
  name: string;
  image: string;
  imageName: string;
  imageTag: string;
  labels: Record<string, string>;
  env: Record<string, string>;
}

/** One logical line of output: partials joined, multiline groups joined. */
export interface LogLine {
  /** UTC RFC 3339 with nine fractional digits, e.g. `2026-11-27T18:50:02.123456789Z`. */
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
  /**
   * `time` as unix seconds and nanoseconds, when whoever made the line parsed
   * it already (the tailer does, from the file's bytes); `time` is then in
   * the canonical form above.
   */
  sec?: number | undefined;
  nsec?: number | undefined;
  /**
   * Set on a piece of a line longer than the join cap (the tailer's
   * `maxJoinBytes`): the line goes on in the next piece of its stream unless
   * `last`; `index` counts the parts from 0. Its records are all flagged
   * partial, so a receiver joins the pieces like any split line.
   */
  part?: { index: number; last: boolean };
}

export interface FormatOptions {
  /** Host name (FQDN) put into every record. */
  host: string;
  /** Container label keys copied into the record. */
  labels: readonly string[];
  /** Container env var names copied into the record. */
  env: readonly string[];
  /** Merge a line that is a JSON object into the record's top level. */
  mergeJson: boolean;
  /** Lines longer than this (UTF-8 bytes) are split into partial records. */
  maxLineBytes: number;
  /**
   * Flag split lines as Docker's fluentd driver does (`partial_message:
   * "true"`, `partial_id`, `partial_ordinal` and `partial_last` as strings)
   * instead of berth's `partial: true` with a number and a boolean.
   */
  dockerPartial?: boolean;
}

/** A record ready to ship: the Fluentd tag, the event time and the fields. */
export interface LogRecord {
  tag: string;
  sec: number;
  nsec: number;
  fields: Record<string, unknown>;
  /**
   * Set on the common record only (see formatLine): `fields` is then exactly
   * `shared.pairs` plus `source`, `time` and `log`, so a writer may copy the
   * shared part's encoding instead of encoding it again. Never spooled.
   */
  shared?: SharedFields;
}

/**
 * The fields every common record of one container carries unchanged
 * (container_id, container_name, image, image_tag, host), made once per
 * container. `encoded` is a writer's cache of their wire form.
 */
export class SharedFields {
  readonly pairs: readonly (readonly [string, string])[];
  encoded: Uint8Array | undefined;

  constructor(container: ContainerMeta, host: string) {
    this.pairs = [
      ['container_id', container.id],
      ['container_name', container.name],
      ['image', container.imageName],
      ['image_tag', container.imageTag],
      ['host', host],
    ];
  }

  /** Left out of JSON (the spool): `fields` holds the same values. */
  toJSON(): undefined {
    return undefined;
  }
}

/**
 * Whether a container's records take the forms of Docker's fluentd driver
 * (moby daemon/logger/fluentd): `container_name` with Docker's leading `/`
 * (`/web`; berth's names have none) and split lines flagged
 * `partial_message: "true"` with string `partial_ordinal`/`partial_last`.
 * `auto` (the default): for containers observed on a Docker host (`source:
 * 'docker'`), so Fluentd filters written for Docker's driver match them
 * unchanged; berth's and CRI containers keep berth's forms (Kubernetes names
 * have no slash). `always` / `never` force one way.
 */
export function dockerFieldsFor(c: { source?: string }, mode: 'auto' | 'always' | 'never'): boolean {
  return mode === 'always' || (mode === 'auto' && c.source === 'docker');
}

/** The `container_name` of a container's records: with Docker's `/` when `docker`. */
export function recordContainerName(name: string, docker: boolean): string {
  return docker && !name.startsWith('/') ? `/${name}` : name;
}

/** Keys berth sets; on a clash with merged JSON or labels/env, berth's value wins. */
export const BERTH_KEYS = [
  'container_id',
  'container_name',
  'source',
  'log',
  'image',
  'image_tag',
  'host',
  'time',
  'partial',
  'partial_message',
  'partial_id',
  'partial_ordinal',
  'partial_last',
] as const;

const TAG_FIELDS: Record<string, (c: ContainerMeta) => string> = {
  Name: (c) => c.name,
  ID: (c) => c.id.slice(0, 12),
  FullID: (c) => c.id,
  ImageName: (c) => c.imageName,
  ImageTag: (c) => c.imageTag,
};

/**
 * Compiles a Docker-style tag template (`berth.{{.Name}}`). Unknown
 * placeholders are rejected up front, so a typo is a config error and not a
 * tag with braces in it.
 */
export function compileTag(template: string, field = 'tag'): (c: ContainerMeta) => string {
  const parts: (string | ((c: ContainerMeta) => string))[] = [];
  const re = /\{\{\s*\.(\w+)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    parts.push(template.slice(last, m.index));
    const name = m[1] ?? '';
    const fn = TAG_FIELDS[name];
    if (!fn) {
      throw new InvalidArgumentError(
        `${field}: unknown placeholder {{.${name}}} in ${JSON.stringify(template)} (known: ${Object.keys(
          TAG_FIELDS,
        )
          .map((k) => `{{.${k}}}`)
          .join(', ')})`,
        { field },
      );
    }
    parts.push(fn);
    last = m.index + m[0].length;
  }
  parts.push(template.slice(last));
  if (template.slice(last).includes('{{') || parts.some((p) => typeof p === 'string' && p.includes('{{'))) {
    throw new InvalidArgumentError(`${field}: malformed placeholder in ${JSON.stringify(template)}`, {
      field,
    });
  }
  if (template.trim() === '') throw new InvalidArgumentError(`${field}: must not be empty`, { field });
  return (c) => parts.map((p) => (typeof p === 'string' ? p : p(c))).join('');
}

/** Parses `text` as a JSON object; undefined for anything else (arrays, scalars, invalid). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  // Most lines are not JSON: decide on the first character without copying.
  const c = text.charCodeAt(0);
  if (c !== 0x7b && c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0xfeff) return undefined;
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits `text` into pieces of at most `maxBytes` UTF-8 bytes without cutting
 * a character in two.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  // A UTF-16 unit is at most 3 UTF-8 bytes: short lines need no count.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return [text];
  const out: string[] = [];
  let cur = '';
  let curBytes = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch);
    if (curBytes + b > maxBytes && cur !== '') {
      out.push(cur);
      cur = '';
      curBytes = 0;
    }
    cur += ch;
    curBytes += b;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * Formats one logical line into one record, or several when it is longer than
 * `maxLineBytes` (each then flagged as Docker flags partial messages). `key`
 * identifies the line's place in its file (e.g. `inode:offset`) so a re-read
 * after a crash gives the same `partial_id` and a receiver can de-duplicate.
 */
export function formatLine(
  line: LogLine,
  container: ContainerMeta,
  tag: string,
  opts: FormatOptions,
  key: string | (() => string) = '',
  shared?: SharedFields,
  /** For a `part` of a capped line: the ordinal of its first record (the parts before it had the others). */
  firstOrdinal = 1,
): LogRecord[] {
  let t: { sec: number; nsec: number };
  let time: string;
  if (line.sec !== undefined && line.nsec !== undefined) {
    t = { sec: line.sec, nsec: line.nsec };
    time = line.time;
  } else {
    const canonical = isCanonical(line.time);
    t = (canonical ? parseCanonical(line.time) : parseTime(line.time)) ?? { sec: 0, nsec: 0 };
    time = canonical ? line.time : formatTime(t.sec, t.nsec);
  }
  const single = line.part === undefined && line.text.length * 3 <= opts.maxLineBytes;
  if (single && opts.labels.length === 0 && opts.env.length === 0) {
    const merged = opts.mergeJson ? parseJsonObject(line.text) : undefined;
    if (!merged) {
      // The common record, as one literal (one allocation, a stable shape);
      // same keys in the same order as the general path below.
      const fields: Record<string, unknown> = {
        container_id: container.id,
        container_name: container.name,
        source: line.stream,
        image: container.imageName,
        image_tag: container.imageTag,
        host: opts.host,
        time,
        log: line.text,
      };
      return shared
        ? [{ tag, sec: t.sec, nsec: t.nsec, fields, shared }]
        : [{ tag, sec: t.sec, nsec: t.nsec, fields }];
    }
  }
  const base: Record<string, unknown> = {};
  for (const k of opts.labels) {
    const v = container.labels[k];
    if (v !== undefined) base[k] = v;
  }
  for (const k of opts.env) {
    const v = container.env[k];
    if (v !== undefined) base[k] = v;
  }
  const meta = {
    container_id: container.id,
    container_name: container.name,
    source: line.stream,
    image: container.imageName,
    image_tag: container.imageTag,
    host: opts.host,
    time,
  };
  const pieces = splitUtf8(line.text, Math.max(1, opts.maxLineBytes));
  if (pieces.length === 1 && line.part === undefined) {
    // A JSON line split in pieces is no longer JSON in any piece: merge whole lines only.
    const merged = opts.mergeJson ? parseJsonObject(line.text) : undefined;
    return [{ tag, sec: t.sec, nsec: t.nsec, fields: { ...base, ...merged, ...meta, log: line.text } }];
  }
  const partialId = createHash('sha256')
    .update(`${container.id}\0${typeof key === 'string' ? key : key()}\0${line.time}\0${line.stream}`)
    .digest('hex')
    .slice(0, 32);
  return pieces.map((piece, i) => {
    const last = i === pieces.length - 1 && line.part?.last !== false;
    const flags = opts.dockerPartial
      ? {
          partial_message: 'true',
          partial_id: partialId,
          partial_ordinal: String(firstOrdinal + i),
          partial_last: String(last),
        }
      : { partial: true, partial_id: partialId, partial_ordinal: firstOrdinal + i, partial_last: last };
    return { tag, sec: t.sec, nsec: t.nsec, fields: { ...base, ...meta, log: piece, ...flags } };
  });
}

export { compileMultiline } from './line-pattern.js';
