/**
 * The snapshot area's contract (overlay.ts: overlayfs over the image store's
 * unpacked layers). A container's snapshot is `prepare`d at create (or at a
 * start that finds none), stays across its restarts, and is `remove`d with
 * the container; `restore` runs once at agent start.
 */
export interface SnapshotPort {
  /** Idempotent: returns the existing snapshot for `key`. */
  prepare(key: string, layerDirs: string[]): Promise<{ rootfs: string }>;
  /** Unmounts and deletes the snapshot; idempotent. */
  remove(key: string): Promise<void>;
  /** Optional: on agent start, remount what a reboot unmounted and remove snapshots not in `keep`. */
  restore?(keep: string[]): Promise<unknown>;
}
