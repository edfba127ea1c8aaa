import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { ComposeError, type Pos } from './errors.js';

/**
 * A Compose file as a tree that keeps every node's position, so any later
 * step (interpolation, normalization, merge checks) can name file:line:col.
 * Aliases and `<<` merge keys are resolved here, as compose-go's YAML decoder
 * does, so later steps see plain maps and sequences.
 */
export type YNode = YScalar | YMap | YSeq;

export interface YScalar {
  kind: 'scalar';
  value: string | number | boolean | null;
  /** The text as written (an octal `0755` stays recognisable). */
  source: string;
  pos: Pos;
}

export interface YEntry {
  keyPos: Pos;
  value: YNode;
}

export interface YMap {
  kind: 'map';
  entries: Map<string, YEntry>;
  pos: Pos;
}

export interface YSeq {
  kind: 'seq';
  items: YNode[];
  pos: Pos;
}

/** Far above any real Compose file (a 1,000-service file has some 50,000 nodes). */
const MAX_NODES = 500_000;

/** Parses one Compose file; YAML syntax errors and duplicate keys are ComposeErrors with their position. */
export function parseYamlTree(text: string, file: string): YMap {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, merge: true, prettyErrors: false });
  const posOf = (offset: number | undefined): Pos => {
    const lp = lines.linePos(offset ?? 0);
    return { file, line: lp.line, col: lp.col };
  };
  const first = doc.errors[0];
  if (first !== undefined) {
    throw new ComposeError(posOf(first.pos[0]), '', `invalid YAML: ${first.message.split('\n')[0]}`);
  }
  // Aliases are expanded into copies, so a file of nested aliases (a billion
  // laughs) could grow without end: the depth and the node count are capped.
  let budget = MAX_NODES;
  const convert = (node: unknown, depth: number): YNode => {
    if (depth > 64) throw new ComposeError(posOf(undefined), '', 'YAML nested deeper than 64 levels');
    if (--budget < 0) {
      const at = posOf((node as Node | null)?.range?.[0]);
      throw new ComposeError(
        at,
        '',
        `YAML expands to more than ${MAX_NODES} nodes (aliases nested too deep?)`,
      );
    }
    if (isAlias(node)) return convert(node.resolve(doc), depth + 1);
    const at = posOf((node as Node | null)?.range?.[0]);
    if (isMap(node)) {
      const entries = new Map<string, YEntry>();
      const merged: YMap[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key;
        const keyPos = posOf((keyNode as Node | null)?.range?.[0]);
        const key = isScalar(keyNode) ? keyNode.value : keyNode;
        // With merge: true the yaml package types a `<<` key as a symbol, not the string.
        if (isScalar(keyNode) && keyNode.source === '<<') {
          const v = convert(pair.value, depth + 1);
          for (const m of v.kind === 'seq' ? v.items : [v]) {
            if (m.kind !== 'map') throw new ComposeError(keyPos, '<<', 'a merge key takes a mapping');
            merged.push(m);
          }
          continue;
        }
        if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
          throw new ComposeError(keyPos, '', 'a mapping key must be a scalar');
        }
        entries.set(String(key), { keyPos, value: convert(pair.value, depth + 1) });
      }
      // Keys written in the map win over merged ones; earlier merge sources win over later ones.
      for (const m of merged) {
        for (const [k, e] of m.entries) if (!entries.has(k)) entries.set(k, e);
      }
      return { kind: 'map', entries, pos: at };
    }
    if (isSeq(node)) return { kind: 'seq', items: node.items.map((i) => convert(i, depth + 1)), pos: at };
    if (isScalar(node)) {
      const v = node.value;
      const value = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null;
      return { kind: 'scalar', value, source: node.source ?? String(v), pos: at };
    }
    return { kind: 'scalar', value: null, source: '', pos: at };
  };
  const root = doc.contents === null ? null : convert(doc.contents, 0);
  if (root === null || (root.kind === 'scalar' && root.value === null)) {
    return { kind: 'map', entries: new Map(), pos: { file, line: 1, col: 1 } };
  }
  if (root.kind !== 'map') throw new ComposeError(root.pos, '', 'a Compose file must be a mapping');
  return root;
}
