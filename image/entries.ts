/** What goes into a layer: files copied from the host, generated files, directories and symlinks. */
export type Entry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; source: string }
  | { type: 'data'; path: string; mode: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string };

/**
 * A set of entries keyed by their path in the image (no leading slash). The
 * first entry for a path wins, so a library two binaries need is added once.
 */
export class Tree {
  private readonly entries = new Map<string, Entry>();

  add(entry: Entry): void {
    const path = entry.path.replace(/^\/+/, '');
    if (path === '' || path.split('/').includes('..'))
      throw new Error(`image: bad path ${JSON.stringify(entry.path)}`);
    if (!this.entries.has(path)) this.entries.set(path, { ...entry, path });
  }

  has(path: string): boolean {
    return this.entries.has(path.replace(/^\/+/, ''));
  }

  /**
   * Every entry plus the parent directories not named (0755), sorted by path
   * bytes: the same tree always gives the same tar, whatever order it was filled in.
   */
  sorted(): Entry[] {
    const all = new Map(this.entries);
    for (const path of this.entries.keys()) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (!all.has(dir)) all.set(dir, { type: 'dir', path: dir, mode: 0o755 });
      }
    }
    return [...all.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  }
}
