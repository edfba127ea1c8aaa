import path from 'node:path';
import { FailedPreconditionError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { moveOwnAddress } from './container-files.js';
import {
  attachmentMaps,
  defaultRouteIndex,
  freeIndex,
  linkOn,
  linksOf,
  linkVeth,
  refuseDuplicate,
} from './links.js';
import { netnsName, short } from './names.js';
import { isPublished } from './portspec.js';
import type { AttachmentStore } from './records.js';
import type { Segment } from './segment.js';
import type { Segments } from './segments.js';
import type { AttachmentRecord, LinkRecord, NetworkAttachment, NetworkJoinRequest } from './types.js';

/**
 * `connect` and `disconnect` of a running container: a link added to or
 * taken from its netns while it runs, its record written before each host
 * change (as attach does). Called under the manager's lock.
 */
export class LiveLinks {
  constructor(
    private readonly records: AttachmentStore,
    private readonly segments: Segments,
    private readonly log: Logger,
  ) {}

  async connect(id: string, join: NetworkJoinRequest): Promise<NetworkAttachment> {
    const rec = await this.bridgedRecord(id);
    refuseDuplicate(rec, join.name);
    const seg = await this.segments.forJoin(join.name, 'network');
    const index = freeIndex(rec);
    const link: LinkRecord = {
      network: join.name,
      bridge: seg.bridge,
      veth: linkVeth(id, index),
      ifname: `eth${index}`,
      aliases: join.aliases ?? [],
    };
    rec.links = [...linksOf(rec), link];
    await this.records.write(rec);
    try {
      await seg.setup.ensure();
      link.address = await seg.ipam.allocate(id);
      await this.records.write(rec);
      await seg.veths.attach(rec.netns ?? netnsName(id), link.veth, link.address, {
        ifname: link.ifname,
        netnsExists: true,
        defaultRoute: false,
      });
    } catch (err) {
      await this.dropLink(rec, link, seg).catch((e: unknown) =>
        this.log.warn({ err: e, id }, 'network: cleanup after a failed connect failed'),
      );
      throw err;
    }
    this.log.info({ id, network: join.name, address: link.address }, 'network: connected');
    return this.attachmentOf(rec);
  }

  async disconnect(id: string, network: string): Promise<NetworkAttachment> {
    const rec = await this.bridgedRecord(id);
    const links = linksOf(rec);
    const link = linkOn(rec, network);
    if (links.length === 1)
      throw new FailedPreconditionError(
        `container ${short(id)} is on network ${network} only; a bridge container keeps one network (stop it, or connect another first)`,
      );
    if (link === links[0] && rec.ports.some(isPublished))
      throw new FailedPreconditionError(
        `container ${short(id)} publishes ports on network ${network}, its first; stop it to leave that network`,
      );
    const seg = await this.segments.find(link.network);
    const wasDefault = await this.hasDefaultRoute(rec, link);
    await this.dropLink(rec, link, seg);
    if (wasDefault) {
      // The route left with the link: the next non-internal network carries it now.
      for (const l of linksOf(rec)) {
        const s = await this.segments.find(l.network);
        if (s && !s.internal) {
          await s.veths.routeDefault(rec.netns ?? netnsName(id), l.ifname);
          break;
        }
      }
    }
    this.log.info({ id, network }, 'network: disconnected');
    return this.attachmentOf(rec);
  }

  private async bridgedRecord(id: string): Promise<AttachmentRecord> {
    const rec = await this.records.read(id);
    if (!rec)
      throw new FailedPreconditionError(
        `container ${short(id)} is not running (connect and disconnect need a running container)`,
      );
    if (rec.mode !== 'bridge')
      throw new FailedPreconditionError(`container ${short(id)} has network mode ${rec.mode}, not bridge`);
    return rec;
  }

  private async hasDefaultRoute(rec: AttachmentRecord, link: LinkRecord): Promise<boolean> {
    const segs: Segment[] = [];
    for (const l of linksOf(rec)) {
      const s = await this.segments.find(l.network);
      if (s) segs.push(s);
    }
    const i = defaultRouteIndex(segs);
    return i !== undefined && segs[i]?.bridge === link.bridge;
  }

  /** Removes one link: its veth (the pair goes with it), its address, its rules; the record without it. */
  private async dropLink(rec: AttachmentRecord, link: LinkRecord, seg: Segment | undefined): Promise<void> {
    const main = this.segments.main;
    await main.veths.remove(undefined, link.veth);
    const wasFirst = link === linksOf(rec)[0];
    if (wasFirst) {
      const tag = `berth:${link.bridge}:${short(rec.id)}`;
      await main.setup.deleteContainerRules((c) => c === tag);
    }
    if (seg) await seg.ipam.release(rec.id);
    rec.links = linksOf(rec).filter((l) => l !== link);
    const first = rec.links[0];
    if (first) {
      rec.bridge = first.bridge;
      rec.veth = first.veth;
      if (first.address) rec.address = first.address;
    }
    await this.records.write(rec);
    // /etc/hosts names the container by its first network's address: follow the change.
    if (wasFirst && link.address && first?.address)
      await moveOwnAddress(
        path.join(this.records.containerDir(rec.id), 'hosts'),
        link.address,
        first.address,
      );
  }

  private attachmentOf(rec: AttachmentRecord): NetworkAttachment {
    const dir = this.records.containerDir(rec.id);
    return {
      netnsPath: this.segments.main.veths.netnsPath(rec.netns ?? netnsName(rec.id)),
      ...attachmentMaps(linksOf(rec)),
      hostsPath: path.join(dir, 'hosts'),
      resolvConfPath: path.join(dir, 'resolv.conf'),
      ports: rec.ports,
    };
  }
}
