// Over 400 lines: every image verb (pull, load, import, tag, remove, gc, logins) goes through the one index,
// its pins against gc and the commit that verifies and unpacks a candidate; they share that state.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
} from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ImageSummary, PullProgress } from '../runtime.js';
import type { ImageTopic } from '../types.js';
import { readArchive } from './archive.js';
import { RegistryAuthStore, type RegistryLogin, registryDomain } from './auth.js';
import { BlobStore } from './blobs.js';
import type { ImageCandidate } from './candidate.js';
import { sha256Of } from './digest.js';
import { tmpName } from './fsutil.js';
import { LayerStore } from './layers.js';
import { type LayerLimits, layerLimits } from './limits.js';
import { hostPlatform } from './platform.js';
import { type PullConfig, parsePullOptions, resolveRemote, verifyLogin } from './pull.js';
import { parseReference } from './reference.js';
import { RefsIndex } from './refs-index.js';
import type {
  ImageEventSink,
  ImageOps,
  ImagePort,
  ImageRecord,
  LayerRef,
  Platform,
  ResolvedImage,
} from './types.js';

export interface ImageStoreOptions extends PullConfig, Partial<LayerLimits> {
  /** berth's state root; the store lives in `<root>/images/`. */
  root: string;
  logger: Logger;
  /** Told about `image.pulled|loaded|tagged|removed`. */
  onEvent?: ImageEventSink;
  /** Platform to pick from multi-platform images (the host's by default). */
  platform?: Platform;
}

const ID_PREFIX = /^(?:sha256:)?([a-f0-9]{4,64})$/;

/**
 * berth's image store: content-addressed blobs (configs, manifests), unpacked
 * layers shared between images, and the refs index. Implements the container
 * manager's ImagePort and ImageOps. Layout and rules: runtime/image/README.md.
 */
export class ImageStore implements ImagePort, ImageOps {
  private readonly dir: string;
  private readonly tmp: string;
  private readonly blobs: BlobStore;
  private readonly layers: LayerStore;
  private readonly index: RefsIndex;
  /** Blobs and layers an operation in flight is about to reference; gc leaves them alone. */
  private readonly pinned = new Map<string, number>();
  private readying: Promise<void> | undefined;
  /** `berth login`: credentials (and CA files) per registry, in `<root>/auth.json`, mode 0600. */
  private readonly auth: RegistryAuthStore;

  constructor(private readonly o: ImageStoreOptions) {
    this.auth = new RegistryAuthStore(join(o.root, 'auth.json'));
    this.dir = join(o.root, 'images');
    this.tmp = join(this.dir, 'tmp');
    this.blobs = new BlobStore(join(this.dir, 'blobs'), this.tmp);
    this.layers = new LayerStore(join(this.dir, 'layers'), this.tmp, o.logger, layerLimits(o));
    this.index = new RefsIndex(join(this.dir, 'index.json'));
  }

  /** Creates the layout and clears leftovers of a crash (temp files are never referenced). */
  ready(): Promise<void> {
    this.readying ??= (async () => {
      await rm(this.tmp, { recursive: true, force: true });
      await mkdir(this.tmp, { recursive: true });
      await this.blobs.init();
      await this.layers.init();
      await this.index.load();
      // A damaged login file costs the logins, not the agent: pulls go on without them.
      await this.auth
        .load()
        .catch((err: unknown) => this.o.logger.warn({ err }, 'registry logins not loaded'));
    })();
    return this.readying;
  }

  /**
   * Checks the credentials against the registry, then keeps them for every
   * later pull from it (a pull's own --username still wins). Returns the
   * registry's domain as image references spell it. Nothing is kept when
   * the registry refuses.
   */
  async login(registry: string, login: RegistryLogin): Promise<string> {
    await this.ready();
    const domain = registryDomain(registry);
    if (!login.username || !login.password) {
      throw new InvalidArgumentError(`${login.username ? 'password' : 'username'}: required to log in`, {
        field: login.username ? 'password' : 'username',
      });
    }
    await verifyLogin(domain, login, this.pullConfig());
    await this.auth.save(domain, login);
    this.o.logger.info({ registry: domain, username: login.username }, 'registry login saved');
    return domain;
  }

  /** Forgets a registry's login; NotFoundError when there was none. */
  async logout(registry: string): Promise<string> {
    await this.ready();
    const domain = registryDomain(registry);
    if (!(await this.auth.remove(domain))) throw new NotFoundError(`not logged in to ${domain}`);
    return domain;
  }

  /** Registries with a stored login. */
  async logins(): Promise<string[]> {
    await this.ready();
    return this.auth.list();
  }

  /** The pull settings with the stored logins (configured registries first, a login wins). */
  private pullConfig(): PullConfig {
    return { ...this.o, registries: { ...this.o.registries, ...this.auth.registries } };
  }

  // ---- ImagePort ------------------------------------------------------------

  async resolve(ref: string): Promise<ResolvedImage> {
    await this.ready();
    const { id, ref: shown, byId } = this.find(ref);
    const rec = this.record(id);
    const config = await this.blobs.readJson(id);
    const layerDirs: string[] = [];
    for (const l of rec.layers) {
      if (!(await this.layers.has(l.diffId))) {
        throw new InternalError(
          `image ${shown}: layer ${l.diffId} is missing from the store; remove and pull the image again`,
        );
      }
      layerDirs.push(this.layers.fsPath(l.diffId));
    }
    const named = byId ? this.index.refsOf(id)[0] : shown;
    const { name, tag } = named ? nameTag(named) : { name: '', tag: '' };
    const inner = config.config;
    return {
      id,
      ref: shown,
      name,
      tag,
      config:
        inner && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {},
      layerDirs,
    };
  }

  // ---- ImageOps -------------------------------------------------------------

  async list(): Promise<ImageSummary[]> {
    await this.ready();
    return this.index
      .images()
      .sort((a, b) => b.addedAt.localeCompare(a.addedAt))
      .map((r) => this.summary(r));
  }

  async pull(
    ref: string,
    opts: Record<string, unknown>,
    onProgress?: (p: PullProgress) => void,
  ): Promise<ImageSummary> {
    await this.ready();
    const parsed = parseReference(ref);
    const pullOpts = parsePullOptions(opts);
    const cand = await resolveRemote(parsed, pullOpts, this.pullConfig(), onProgress);
    const rec = await this.commit(cand);
    this.o.logger.info({ ref: parsed.ref, id: rec.id }, 'image pulled');
    this.emit('image.pulled', parsed.ref, rec.id);
    return this.summary(rec);
  }

  async load(tar: NodeJS.ReadableStream): Promise<ImageSummary[]> {
    await this.ready();
    const staging = tmpName(this.tmp, 'load');
    await mkdir(staging, { recursive: true });
    try {
      // The outer tar is staged on disk: bounded by the room the disk has beyond minFreeBytes.
      const room = await this.layers.room('archive');
      const cands = await readArchive(tar as Readable, staging, this.o.platform ?? hostPlatform(), room);
      const out: ImageSummary[] = [];
      for (const c of cands) {
        const rec = await this.commit(c);
        for (const r of c.refs.length ? c.refs : [rec.id]) this.emit('image.loaded', r, rec.id);
        out.push(this.summary(rec));
      }
      return out;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async importRootfs(tar: NodeJS.ReadableStream, ref: string): Promise<ImageSummary> {
    await this.ready();
    const parsed = parseReference(ref);
    if (parsed.digest) {
      throw new InvalidArgumentError(`ref: an imported image gets a tag, not a digest (${ref})`, {
        field: 'ref',
      });
    }
    const layer = await this.layers.unpack(tar as Readable, { label: 'rootfs' });
    this.pin(layer.diffId);
    try {
      const platform = this.o.platform ?? hostPlatform();
      const created = new Date().toISOString();
      const config = Buffer.from(
        JSON.stringify({
          architecture: platform.architecture,
          ...(platform.variant ? { variant: platform.variant } : {}),
          os: platform.os,
          created,
          config: {},
          rootfs: { type: 'layers', diff_ids: [layer.diffId] },
          history: [{ created, created_by: 'berth import', comment: 'Imported from tarball' }],
        }),
      );
      const rec = await this.commit({
        refs: [parsed.ref],
        config,
        repoDigests: [],
        layers: [
          {
            label: 'rootfs',
            open: () => Promise.reject(new InternalError('imported rootfs layer vanished before commit')),
          },
        ],
        source: 'import',
      });
      this.emit('image.loaded', parsed.ref, rec.id);
      return this.summary(rec);
    } finally {
      this.unpin(layer.diffId);
    }
  }

  /** Docker's rmi: untags; deletes the image once no ref names it and no container uses it (unless forced). */
  async remove(
    ref: string,
    opts: { force?: boolean; inUse: (imageId: string) => boolean },
  ): Promise<string[]> {
    await this.ready();
    const { id, ref: shown, byId } = this.find(ref);
    const out: string[] = [];
    const deleted = await this.index.update((d) => {
      const refs = Object.keys(d.refs).filter((k) => d.refs[k] === id);
      const inUse = opts.inUse(id);
      let untag: string[];
      if (byId) {
        if (refs.length > 1 && !opts.force) {
          throw new FailedPreconditionError(
            `image ${shown} is tagged in several repositories (${refs.join(', ')}); remove them by name or force`,
          );
        }
        untag = refs;
      } else if (d.refs[shown]) {
        untag = [shown];
      } else {
        // Found through a repo digest (`name@sha256:…` of a pull): drop that digest; tags stay.
        untag = [];
        const rec = d.images[id];
        if (rec) {
          const p = parseReference(shown);
          rec.repoDigests = rec.repoDigests.filter((r) => r !== `${p.name}@${p.digest}`);
        }
        if (refs.length > 0) out.push(`Untagged: ${shown}`);
      }
      const remaining = refs.filter((r) => !untag.includes(r));
      if (remaining.length === 0 && inUse && !opts.force) {
        throw new FailedPreconditionError(
          `image ${shown} (${id.slice(7, 19)}) is used by a container; remove the container first or force`,
        );
      }
      for (const r of untag) {
        delete d.refs[r];
        out.push(`Untagged: ${r}`);
      }
      // A forced removal of an image a container still runs on only untags it, so its layers stay.
      if (remaining.length === 0 && !inUse) {
        delete d.images[id];
        out.push(`Deleted: ${id}`);
        return true;
      }
      return false;
    });
    this.emit('image.removed', shown, id);
    if (deleted) await this.gc();
    return out;
  }

  /** Adds `target` as another ref of the image `source` names. */
  async tag(source: string, target: string): Promise<void> {
    await this.ready();
    const { id } = this.find(source);
    const to = parseReference(target).ref;
    await this.index.update((d) => {
      d.refs[to] = id;
    });
    this.emit('image.tagged', to, id);
  }

  /** Removes blobs and layers no image references; returns what it removed. */
  async gc(): Promise<{ blobs: string[]; layers: string[] }> {
    await this.ready();
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const r of this.index.images()) {
      keepBlobs.add(r.id);
      for (const b of r.blobs) keepBlobs.add(b);
      for (const l of r.layers) keepLayers.add(l.diffId);
    }
    const removed = { blobs: [] as string[], layers: [] as string[] };
    for (const b of await this.blobs.list()) {
      if (keepBlobs.has(b) || this.pinned.has(b)) continue;
      await this.blobs.remove(b);
      removed.blobs.push(b);
    }
    for (const l of await this.layers.list()) {
      if (keepLayers.has(l) || this.pinned.has(l) || this.layers.isBusy(l)) continue;
      await this.layers.remove(l);
      removed.layers.push(l);
    }
    if (removed.blobs.length || removed.layers.length) this.o.logger.info(removed, 'image gc');
    return removed;
  }

  // ---- internals ------------------------------------------------------------

  private pin(key: string): void {
    this.pinned.set(key, (this.pinned.get(key) ?? 0) + 1);
  }

  private unpin(key: string): void {
    const n = (this.pinned.get(key) ?? 1) - 1;
    if (n <= 0) this.pinned.delete(key);
    else this.pinned.set(key, n);
  }

  private record(id: string): ImageRecord {
    const rec = this.index.image(id);
    if (!rec) throw new NotFoundError(`image ${id}: not in the image store`);
    return rec;
  }

  /** By ref, then by repo digest, then by (unique) id prefix. */
  private find(input: string): { id: string; ref: string; byId: boolean } {
    let parsed: ReturnType<typeof parseReference> | undefined;
    try {
      parsed = parseReference(input);
    } catch (err) {
      if (!ID_PREFIX.test(input)) throw err;
    }
    if (parsed) {
      const id = this.index.lookup(parsed.ref);
      if (id) return { id, ref: parsed.ref, byId: false };
      if (parsed.digest) {
        const want = `${parsed.name}@${parsed.digest}`;
        const hit = this.index.images().find((r) => r.repoDigests.includes(want));
        if (hit) return { id: hit.id, ref: parsed.ref, byId: false };
      }
    }
    const m = ID_PREFIX.exec(input);
    if (m?.[1]) {
      const hex = m[1];
      const hits = this.index.images().filter((r) => r.id.slice(7).startsWith(hex));
      if (hits.length > 1) {
        throw new InvalidArgumentError(`image ${input}: the id prefix is ambiguous (${hits.length} images)`, {
          field: 'image',
        });
      }
      const hit = hits[0];
      if (hit) return { id: hit.id, ref: hit.id, byId: true };
    }
    throw new NotFoundError(`image ${parsed?.ref ?? input}: not in the image store (pull or load it first)`);
  }

  private summary(r: ImageRecord): ImageSummary {
    return {
      id: r.id,
      refs: this.index.refsOf(r.id),
      size: r.layers.reduce((n, l) => n + l.size, 0),
      ...(r.created ? { created: r.created } : {}),
    };
  }

  private emit(topic: ImageTopic, ref: string, id: string): void {
    try {
      this.o.onEvent?.(topic, { ref, id });
    } catch (err) {
      this.o.logger.warn({ err, topic }, 'image event subscriber failed');
    }
  }

  /**
   * Verifies and stores an image: config (digest checked when known),
   * manifest, layers (each unpacked once, bounded concurrency, diff_ids
   * checked), then the index entry. Nothing is referenced before it is whole.
   */
  private async commit(c: ImageCandidate): Promise<ImageRecord> {
    const configDigest = c.configDigest ?? sha256Of(c.config);
    const what = `image ${c.refs[0] ?? configDigest}`;
    let config: { rootfs?: { diff_ids?: unknown }; created?: unknown };
    try {
      config = JSON.parse(c.config.toString('utf8')) as typeof config;
    } catch (err) {
      throw new InvalidArgumentError(`${what}: image config is not JSON: ${(err as Error).message}`, {
        field: 'config',
      });
    }
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string')) {
      throw new InvalidArgumentError(`${what}: image config has no rootfs.diff_ids`, { field: 'config' });
    }
    if (diffIds.length !== c.layers.length) {
      throw new InvalidArgumentError(
        `${what}: the config lists ${diffIds.length} layers but the manifest has ${c.layers.length}`,
        { field: 'config' },
      );
    }
    const pins: string[] = [configDigest, ...(diffIds as string[])];
    for (const p of pins) this.pin(p);
    try {
      const blobDigests: string[] = [];
      const stored = await this.blobs.put(c.config, configDigest, `${what}: config`);
      if (c.manifest)
        blobDigests.push((await this.blobs.put(c.manifest, c.manifestDigest, `${what}: manifest`)).digest);
      for (const b of c.extraBlobs ?? []) blobDigests.push((await this.blobs.put(b)).digest);
      for (const b of blobDigests) this.pin(b);
      pins.push(...blobDigests);
      const layers = await this.unpackAll(c, diffIds as string[]);
      const rec: ImageRecord = {
        id: stored.digest,
        ...(c.manifestDigest ? { manifestDigest: c.manifestDigest } : {}),
        repoDigests: c.repoDigests,
        layers,
        blobs: blobDigests,
        ...(typeof config.created === 'string' ? { created: config.created } : {}),
        addedAt: new Date().toISOString(),
        source: c.source,
      };
      await this.index.update((d) => {
        const prev = d.images[rec.id];
        if (prev) {
          rec.repoDigests = [...new Set([...prev.repoDigests, ...rec.repoDigests])];
          rec.blobs = [...new Set([...prev.blobs, ...rec.blobs])];
        }
        d.images[rec.id] = rec;
        for (const r of c.refs) d.refs[r] = rec.id;
      });
      return rec;
    } catch (err) {
      for (const p of pins.splice(0)) this.unpin(p);
      // Blobs stored before the failure are referenced by nothing.
      await this.gc().catch((e: unknown) => this.o.logger.warn({ err: e }, 'image gc after a failed commit'));
      throw err;
    } finally {
      for (const p of pins) this.unpin(p);
    }
  }

  private async unpackAll(c: ImageCandidate, diffIds: string[]): Promise<LayerRef[]> {
    const out: LayerRef[] = new Array(diffIds.length);
    const open = new Set<Readable>();
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (next < diffIds.length && !failure) {
        const i = next++;
        const src = c.layers[i];
        const diffId = diffIds[i];
        if (!src || !diffId) continue;
        if (await this.layers.has(diffId)) {
          src.onExists?.();
          out[i] = await this.layers.info(diffId);
          continue;
        }
        const stream = await src.open();
        open.add(stream);
        try {
          out[i] = await this.layers.unpack(stream, {
            label: src.label,
            expectedDiffId: diffId,
            ...(src.digest ? { expectedDigest: src.digest } : {}),
            ...(src.size !== undefined ? { expectedSize: src.size } : {}),
          });
        } finally {
          open.delete(stream);
        }
        src.onDone?.();
      }
    };
    const n = Math.max(1, Math.min(this.o.concurrency ?? 3, diffIds.length));
    await Promise.all(
      Array.from({ length: n }, () =>
        worker().catch((err: unknown) => {
          // One bad layer fails the image: stop the other downloads instead of finishing them.
          failure ??= { err };
          for (const s of open) s.destroy();
        }),
      ),
    );
    if (failure) throw failure.err;
    return out;
  }
}

function nameTag(ref: string): { name: string; tag: string } {
  const p = parseReference(ref);
  return { name: p.name, tag: p.tag ?? '' };
}
