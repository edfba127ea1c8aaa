import { ComposeError } from './errors.js';
import { InterpolationError, interpolate, type Lookup } from './interpolate.js';
import { parseComposeBytes, parseComposeDuration } from './units.js';
import type { YMap, YNode, YScalar, YSeq } from './yaml-tree.js';

/**
 * Typed reads of positioned YAML nodes. Every scalar string is interpolated
 * when read (compose-go interpolates each file before it casts types, so
 * `replicas: ${N}` is an int), and every refusal names the node's
 * file:line:col and key path.
 */
export class NodeReader {
  constructor(private readonly lookup: Lookup) {}

  fail(node: YNode | undefined, path: string, reason: string): never {
    throw new ComposeError(node?.pos, path, reason);
  }

  /** The scalar's text after interpolation; numbers and booleans as written. */
  str(node: YNode, path: string): string {
    const s = this.scalar(node, path, 'a string');
    if (typeof s.value === 'number') return numberText(s);
    if (typeof s.value !== 'string') return s.value === null ? '' : String(s.value);
    try {
      return interpolate(s.value, this.lookup);
    } catch (e) {
      if (e instanceof InterpolationError) this.fail(node, path, e.message);
      throw e;
    }
  }

  /** A string, or undefined for an explicit YAML null. */
  optStr(node: YNode, path: string): string | undefined {
    return node.kind === 'scalar' && node.value === null ? undefined : this.str(node, path);
  }

  int(node: YNode, path: string, min = Number.MIN_SAFE_INTEGER): number {
    const text = this.str(node, path).trim();
    const n = /^[-+]?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n)) this.fail(node, path, `"${text}" is not an integer`);
    if (n < min) this.fail(node, path, `${n} is below the minimum ${min}`);
    return n;
  }

  num(node: YNode, path: string): number {
    const text = this.str(node, path).trim();
    const n = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(n)) this.fail(node, path, `"${text}" is not a number`);
    return n;
  }

  bool(node: YNode, path: string): boolean {
    const text = this.str(node, path).trim().toLowerCase();
    if (['true', 'yes', 'y', 'on'].includes(text)) return true;
    if (['false', 'no', 'n', 'off'].includes(text)) return false;
    return this.fail(node, path, `"${text}" is not a boolean`);
  }

  durationMs(node: YNode, path: string): number {
    const text = this.str(node, path);
    const ms = parseComposeDuration(text);
    if (ms === undefined) this.fail(node, path, `"${text}" is not a duration (like 1m30s, 500ms, 2h)`);
    return ms;
  }

  bytes(node: YNode, path: string): number {
    const s = this.scalar(node, path, 'a size');
    const v = typeof s.value === 'number' ? s.value : this.str(node, path);
    const n = parseComposeBytes(v);
    if (n === undefined) this.fail(node, path, `"${v}" is not a size (like 512m, 1g, 1048576)`);
    return n;
  }

  oneOf<T extends string>(node: YNode, path: string, allowed: readonly T[]): T {
    const v = this.str(node, path);
    if (!(allowed as readonly string[]).includes(v)) {
      this.fail(node, path, `"${v}" is not one of ${allowed.join(', ')}`);
    }
    return v as T;
  }

  map(node: YNode, path: string): YMap {
    if (node.kind !== 'map') this.fail(node, path, `expected a mapping, got ${describe(node)}`);
    return node;
  }

  seq(node: YNode, path: string): YSeq {
    if (node.kind !== 'seq') this.fail(node, path, `expected a list, got ${describe(node)}`);
    return node;
  }

  /** A list of strings; a single string stands for a one-item list where Compose allows it. */
  strList(node: YNode, path: string, allowSingle = false): string[] {
    if (allowSingle && node.kind === 'scalar') return [this.str(node, path)];
    return this.seq(node, path).items.map((n, i) => this.str(n, `${path}[${i}]`));
  }

  /**
   * `KEY: value` mapping or `["KEY=value", "KEY"]` list (environment,
   * labels): null marks a key named without a value.
   */
  keyValues(node: YNode, path: string): Map<string, { value: string | null; node: YNode; path: string }> {
    const out = new Map<string, { value: string | null; node: YNode; path: string }>();
    if (node.kind === 'map') {
      for (const [k, e] of node.entries) {
        const v = e.value;
        out.set(k, {
          value: v.kind === 'scalar' && v.value === null ? null : this.str(v, `${path}.${k}`),
          node: v,
          path: `${path}.${k}`,
        });
      }
      return out;
    }
    this.seq(node, path).items.forEach((n, i) => {
      const item = this.str(n, `${path}[${i}]`);
      const eq = item.indexOf('=');
      if (eq === 0) this.fail(n, `${path}[${i}]`, `"${item}" has no name before "="`);
      out.set(eq < 0 ? item : item.slice(0, eq), {
        value: eq < 0 ? null : item.slice(eq + 1),
        node: n,
        path: `${path}[${i}]`,
      });
    });
    return out;
  }

  /** Refuses any key of `m` outside `allowed`, naming it and what is supported there. */
  onlyKeys(m: YMap, path: string, allowed: readonly string[]): void {
    for (const [k, e] of m.entries) {
      if (!allowed.includes(k)) {
        throw new ComposeError(
          e.keyPos,
          path === '' ? k : `${path}.${k}`,
          `unsupported key "${k}" (berth supports here: ${allowed.join(', ')})`,
        );
      }
    }
  }

  private scalar(node: YNode, path: string, what: string): YScalar {
    if (node.kind !== 'scalar') this.fail(node, path, `expected ${what}, got ${describe(node)}`);
    return node;
  }
}

/**
 * A plain YAML number as compose-go's decoder prints it: a leading-zero
 * integer is octal (YAML 1.1, as go-yaml reads it), integers keep every digit
 * (no float rounding), anything else as JavaScript prints the number.
 */
function numberText(s: YScalar): string {
  const src = s.source.trim();
  if (/^[-+]?0[0-7]+$/.test(src)) return String(Number.parseInt(src, 8));
  if (/^[-+]?\d+$/.test(src)) return BigInt(src).toString();
  return String(s.value);
}

function describe(node: YNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  return node.value === null ? 'null' : `"${node.source}"`;
}
