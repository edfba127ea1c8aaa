import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../base/errors.js';
import { short, VETH_PREFIX } from './names.js';
import { checkNetworkName, DEFAULT_NETWORK } from './net-names.js';
import type { Segment } from './segment.js';
import type {
  AttachmentRecord,
  LinkRecord,
  NetworkAttachment,
  NetworkInfo,
  NetworkJoinRequest,
} from './types.js';

/** Suffixes of a container's further links: `vb<id12>` is the first, `vb<id12>1` … `vb<id12>z` the others (15 chars). */
const SUFFIXES = '123456789abcdefghijklmnopqrstuvwxyz';
/** A container joins at most this many networks (one veth name each). */
export const MAX_LINKS = SUFFIXES.length + 1;

/** The host end of link number `index` of a container (0: the first network). */
export function linkVeth(id: string, index: number): string {
  if (index === 0) return `${VETH_PREFIX}${short(id)}`;
  const s = SUFFIXES[index - 1];
  if (s === undefined)
    throw new FailedPreconditionError(`networks: a container joins at most ${MAX_LINKS} networks`);
  return `${VETH_PREFIX}${short(id)}${s}`;
}

/** The container id prefix a host veth name (`vb<id12>[k]`) belongs to, or undefined for other links. */
export function vethOwner(link: string): string | undefined {
  if (!link.startsWith(VETH_PREFIX)) return undefined;
  const rest = link.slice(VETH_PREFIX.length);
  return rest.length === 12 || rest.length === 13 ? rest.slice(0, 12) : undefined;
}

/** The record's links; a record of a release before user networks has one, on the default network. */
export function linksOf(rec: AttachmentRecord): LinkRecord[] {
  if (rec.links) return rec.links;
  if (rec.mode !== 'bridge') return [];
  return [
    {
      network: 'bridge',
      bridge: rec.bridge,
      veth: rec.veth ?? linkVeth(rec.id, 0),
      ifname: 'eth0',
      ...(rec.address ? { address: rec.address } : {}),
      aliases: [],
    },
  ];
}

/** The first free link index of a record (for `connect`). */
export function freeIndex(rec: AttachmentRecord): number {
  const used = new Set(linksOf(rec).map((l) => l.ifname));
  for (let i = 0; i < MAX_LINKS; i++) if (!used.has(`eth${i}`)) return i;
  throw new FailedPreconditionError(`networks: a container joins at most ${MAX_LINKS} networks`);
}

/** Addresses and aliases by network name, as the container record and descriptors carry them. */
export function attachmentMaps(links: LinkRecord[]): Pick<NetworkAttachment, 'addresses' | 'aliases'> {
  const addresses: Record<string, string> = {};
  const aliases: Record<string, string[]> = {};
  for (const l of links) {
    if (l.address) addresses[l.network] = l.address;
    if (l.aliases.length > 0) aliases[l.network] = l.aliases;
  }
  return { addresses, ...(Object.keys(aliases).length > 0 ? { aliases } : {}) };
}

/** Index of the link that carries the default route: the first one not on an internal network. */
export function defaultRouteIndex(segs: Segment[]): number | undefined {
  const i = segs.findIndex((s) => !s.internal);
  return i < 0 ? undefined : i;
}

/** The link of `network` in `rec`, or a NotFoundError naming both. */
export function linkOn(rec: AttachmentRecord, network: string): LinkRecord {
  const l = linksOf(rec).find((x) => x.network === network);
  if (!l) throw new NotFoundError(`container ${short(rec.id)} is not connected to network ${network}`);
  return l;
}

export function refuseDuplicate(rec: AttachmentRecord, network: string): void {
  if (linksOf(rec).some((x) => x.network === network))
    throw new AlreadyExistsError(`container ${short(rec.id)} is already connected to network ${network}`);
}

/** Checks the networks to join (names, aliases); none given is the default network alone. */
export function checkJoins(networks: NetworkJoinRequest[] | undefined): NetworkJoinRequest[] {
  if (networks === undefined || networks.length === 0) return [{ name: DEFAULT_NETWORK }];
  const seen = new Set<string>();
  return networks.map((n, i) => {
    const field = `networks[${i}].name`;
    if (n.name !== DEFAULT_NETWORK) checkNetworkName(n.name, field);
    if (seen.has(n.name))
      throw new InvalidArgumentError(`${field}: network ${n.name} is named twice`, { field });
    seen.add(n.name);
    for (const a of n.aliases ?? [])
      if (!/^[a-zA-Z0-9_]([a-zA-Z0-9_.-]{0,252})$/.test(a))
        throw new InvalidArgumentError(`networks[${i}].aliases: ${JSON.stringify(a)} is not a DNS name`, {
          field: `networks[${i}].aliases`,
        });
    return { name: n.name, aliases: [...new Set(n.aliases ?? [])] };
  });
}

/** The containers a network's records show on it (running ones: records exist while a container runs). */
export function membersOf(records: AttachmentRecord[], network: string): NetworkInfo['containers'] {
  const out: NetworkInfo['containers'] = [];
  for (const rec of records) {
    const l = linksOf(rec).find((x) => x.network === network);
    if (l) out.push({ id: rec.id, ...(l.address ? { address: l.address } : {}), aliases: l.aliases });
  }
  return out;
}
