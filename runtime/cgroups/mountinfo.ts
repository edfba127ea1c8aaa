/** One line of `/proc/<pid>/mountinfo` (proc(5)), the fields berth uses. */
export interface MountEntry {
  /** The mount's root within its filesystem (field 4; `/` unless a bind mount of a subtree). */
  root: string;
  /** Where it is mounted (field 5), unescaped. */
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-superblock options after the separator (`rw,memory`, `rw,nsdelegate`). */
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * The one mountinfo parser (cgroup detection, the overlay snapshotter's mount
 * checks): `id parent maj:min root mountpoint opts [optional…] - fstype source superopts`.
 * Lines without the ` - ` separator or the mount point are skipped.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fsType = right[0];
    if (mountPoint === undefined || fsType === undefined || fsType === '') continue;
    out.push({
      root: unescapeMountPath(left[3] ?? '/'),
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      source: right[1] ?? '',
      superOptions: (right[2] ?? '').split(','),
    });
  }
  return out;
}
