/**
 * The volumes area's contract. Named volumes are directories under one root
 * (store.ts: `<root>/<name>/_data`, Docker's layout); a volume lives from its
 * `create` (explicit, or the first start of a container mounting it) until
 * `remove`. Which containers mount a volume is the container manager's to say:
 * VolumeOps (ops.ts) asks it before a remove or prune.
 */
export interface VolumePort {
  /** Every volume, sorted by name. */
  list(): Promise<StoredVolumeInfo[]>;
  /** NotFoundError when it does not exist. */
  get(name: string): Promise<StoredVolumeInfo>;
  /** Idempotent; InvalidArgumentError on a bad name. */
  create(name: string): Promise<StoredVolumeInfo>;
  /** NotFoundError when it does not exist. */
  remove(name: string): Promise<void>;
  /** Finishes removals a crash interrupted; run once at start. */
  sweep?(): Promise<void>;
}

/** One volume as the store knows it (no JSON record: the directory is the volume). */
export interface StoredVolumeInfo {
  name: string;
  /** The `_data` directory a container mounts. */
  mountpoint: string;
  createdAt: string;
}

/** A volume one container mounts; `anonymous` ones (`-v /path`) go with their container. */
export interface VolumeMountRef {
  name: string;
  anonymous: boolean;
}

/** Docker's volume names: a letter or digit, then at least one of letters, digits, `_`, `.`, `-`. */
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
