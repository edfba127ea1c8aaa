import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-file.js';
import { FailedPreconditionError, InternalError } from '../base/errors.js';
import type { CgroupInfo } from '../cgroups/detect.js';
import { HostProc } from '../cgroups/proc.js';
import type { ResolvedImage } from '../image/types.js';
import { VolumeStore } from '../volumes/store.js';
import { ALL_CAPS, boundingCapsFromStatus } from './capabilities.js';
import { type Arch, hostArch } from './seccomp-default.js';
import { buildSpec } from './spec.js';
import type { ManagedConfig, OciRaw, SpecFacts, SpecPort } from './types.js';
import { resolveUser } from './user.js';
import { validateRequest } from './validate.js';

export interface OciSpecBuilderOptions {
  cgroups: CgroupInfo;
  /** Named volumes live in `<volumesRoot>/<name>/_data` (Docker's layout). */
  volumesRoot: string;
  /** Per-container files the builder writes (`<stateDir>/<id>/hostname`); without it, no /etc/hostname mount. */
  stateDir?: string;
  seccomp?: {
    /** Architecture whose syscall table the default profile targets; defaults to the host's. */
    arch?: Arch;
  };
  /** Upper bound for `cpus`; defaults to this host's CPU count. */
  hostCpus?: number;
  /**
   * Default RLIMIT_NOFILE (soft = hard). Docker's is 1048576; berth uses that
   * capped at the agent's own hard limit, because raising a hard limit needs
   * CAP_SYS_RESOURCE, which a confined agent may not have (runc then fails
   * every start with "error setting rlimits").
   */
  defaultNofile?: number;
  /**
   * Capabilities the agent can hand out (its bounding set); defaults to
   * `<procRoot>/self/status`. Privileged and `ALL` mean all of these: a confined
   * agent cannot grant more, and runc fails the start if asked to.
   */
  hostCaps?: string[];
  /** procfs root for the agent's own status and limits; default `/proc`. */
  procRoot?: string;
}

const DOCKER_NOFILE = 1_048_576;

function ownBoundingCaps(proc: HostProc): string[] {
  const status = proc.selfFile('status');
  return (status === undefined ? undefined : boundingCapsFromStatus(status)) ?? [...ALL_CAPS];
}

/** The hard "Max open files" of this process, from /proc/self/limits (or `limitsText`). */
export function ownNofileHardLimit(limitsText?: string, proc = new HostProc()): number | undefined {
  const text = limitsText ?? proc.selfFile('limits');
  if (text === undefined) return undefined;
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m || m[2] === 'unlimited') return undefined;
  const n = Number(m[2]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function isOciRaw(v: unknown): v is OciRaw {
  return !!v && typeof v === 'object' && (v as { v?: unknown }).v === 1 && Array.isArray((v as OciRaw).args);
}

/**
 * SpecPort over the OCI runtime spec: validation of user input (merged with
 * the image config) at create, config.json at every start.
 */
export class OciSpecBuilder implements SpecPort {
  private readonly arch: Arch;
  private readonly hostCpus: number;
  private readonly defaultNofile: number;
  private readonly hostCaps: string[];
  /** Named volumes (`docker volume`): the builder creates them on first use, the manager lists and removes them. */
  readonly volumes: VolumeStore;

  constructor(private readonly opts: OciSpecBuilderOptions) {
    this.volumes = new VolumeStore(opts.volumesRoot);
    this.arch = opts.seccomp?.arch ?? hostArch();
    this.hostCpus = opts.hostCpus ?? availableParallelism();
    const proc = new HostProc(opts.procRoot);
    this.hostCaps = opts.hostCaps ?? ownBoundingCaps(proc);
    this.defaultNofile =
      opts.defaultNofile ?? Math.min(DOCKER_NOFILE, ownNofileHardLimit(undefined, proc) ?? DOCKER_NOFILE);
  }

  validate(request: unknown, image: ResolvedImage): Promise<ManagedConfig> {
    return validateRequest(request, image, {
      hostCpus: this.hostCpus,
      readProfile: (p) => readFile(p, 'utf8'),
    });
  }

  async build(config: ManagedConfig, facts: SpecFacts): Promise<Record<string, unknown>> {
    const raw = config.raw;
    if (!isOciRaw(raw))
      throw new InternalError(`container ${facts.id}: stored spec config is not a version 1 berth config`);
    const volumePaths: Record<string, string> = {};
    for (const m of raw.mounts) {
      if (m.kind === 'volume') volumePaths[m.name] = await this.volumes.ensure(m.name);
    }
    // Docker creates a missing bind source as a directory; so does berth.
    for (const m of raw.mounts) if (m.kind === 'bind') await mkdir(m.source, { recursive: true });
    let hostnamePath: string | undefined;
    if (this.opts.stateDir) {
      const dir = join(this.opts.stateDir, facts.id);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      hostnamePath = join(dir, 'hostname');
      // Rewritten at every start: no fsync.
      await writeFileAtomic(hostnamePath, `${facts.hostname}\n`, { sync: false });
    }
    const grantable = new Set(this.hostCaps);
    const missing = (raw.requestedCaps ?? []).filter((c) => !grantable.has(c));
    if (missing.length > 0) {
      throw new FailedPreconditionError(
        `capAdd: ${missing.join(', ')} cannot be granted: the agent's own bounding set lacks ${missing.length > 1 ? 'them' : 'it'}`,
      );
    }
    const caps = (raw.privileged ? [...ALL_CAPS] : raw.caps).filter((c) => grantable.has(c));
    const user = await resolveUser(facts.rootfs, raw.user);
    return buildSpec({
      raw,
      caps,
      facts,
      user,
      cgroups: this.opts.cgroups,
      arch: this.arch,
      defaultNofile: this.defaultNofile,
      volumePaths,
      ...(hostnamePath ? { hostnamePath } : {}),
    });
  }

  /** The volumes a validated config mounts; anonymous ones are removed with their container. */
  volumesOf(config: ManagedConfig): Array<{ name: string; anonymous: boolean }> {
    if (!isOciRaw(config.raw)) return [];
    return config.raw.mounts.flatMap((m) =>
      m.kind === 'volume' ? [{ name: m.name, anonymous: m.anonymous === true }] : [],
    );
  }

  /** Deletes the per-container files `build` wrote (call on container removal); idempotent. */
  async release(id: string): Promise<void> {
    if (!this.opts.stateDir || !/^[a-zA-Z0-9_.-]+$/.test(id)) return;
    await rm(join(this.opts.stateDir, id), { recursive: true, force: true });
  }

  cgroupPath(id: string): string {
    return `/berth/${id}`;
  }
}
