import type { Pos } from '../compose/errors.js';
import { parseYamlTree, type YNode } from '../compose/yaml-tree.js';

/** Where a key path sits in a project's files: the last file that sets it, as Compose's merge lets it win. */
export type Locate = (path: ReadonlyArray<string | number>) => Pos | undefined;

/** A Locate over the files' texts (as the user named them); a file that does not parse locates nothing. */
export function locator(sources: ReadonlyArray<{ file: string; text: string }>): Locate {
  const trees = sources.map((s) => {
    try {
      return parseYamlTree(s.text, s.file);
    } catch {
      return undefined;
    }
  });
  return (path) => {
    for (let i = trees.length - 1; i >= 0; i--) {
      let node: YNode | undefined = trees[i];
      let pos: Pos | undefined;
      for (const key of path) {
        if (node === undefined) break;
        if (node.kind === 'map' && typeof key === 'string') {
          const e = node.entries.get(key);
          pos = e?.keyPos;
          node = e?.value;
        } else if (node.kind === 'seq' && typeof key === 'number') {
          node = node.items[key];
          pos = node?.pos;
        } else {
          node = undefined;
        }
      }
      if (node !== undefined && pos !== undefined) return pos;
    }
    return undefined;
  };
}
