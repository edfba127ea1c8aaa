import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isLoopbackHost } from '../base/address.js';
import { writeFileAtomic } from './files.js';
import { parseResolvConf, renderHosts, renderResolvConf } from './hostfiles.js';

export interface ContainerFilesOptions {
  /** resolv.conf nameservers of a bridge container, or `host`: the host's less the loopback ones. */
  dnsServers: string[] | 'host';
  /** Search domains before the host's (without the trailing dot). */
  dnsSearch: string[];
  hostResolvConf: string;
  hostHosts: string;
}

/** The paths a container bind-mounts as /etc/hosts and /etc/resolv.conf. */
export interface FilePaths {
  hostsPath: string;
  resolvConfPath: string;
}

/**
 * A container's `hosts`, `resolv.conf` and `hostname`, written into its
 * directory of the network state dir (rendering: hostfiles.ts).
 */
export class ContainerFiles {
  constructor(private readonly opts: ContainerFilesOptions) {}

  /** Bridge (`address` given) and none: own hosts; resolv.conf from the configured servers (none: no servers). */
  async write(
    dir: string,
    hostname: string,
    address: string | undefined,
    extraHosts: Array<[string, string]>,
  ): Promise<FilePaths> {
    const hostsPath = path.join(dir, 'hosts');
    const resolvConfPath = path.join(dir, 'resolv.conf');
    const host = parseResolvConf(await readOr(this.opts.hostResolvConf, ''));
    // Mode none has no route to any resolver; keep the host's search/options so the file is still meaningful.
    const servers =
      this.opts.dnsServers === 'host'
        ? host.nameservers.filter((n) => !isLoopbackHost(n))
        : this.opts.dnsServers;
    const nameservers = address ? servers : [];
    // The embedded DNS's domain first, so a bare container name is answered by berth, not asked upstream.
    const search = address ? [...new Set([...this.opts.dnsSearch, ...host.search])] : host.search;
    // Derived files, written again on every start: atomic (a container never sees a torn one) but
    // not fsynced, which would put three disk flushes on every container start.
    await Promise.all([
      writeFileAtomic(
        hostsPath,
        renderHosts({ hostname, ...(address ? { address } : {}), extraHosts }),
        0o644,
        { sync: false },
      ),
      writeFileAtomic(resolvConfPath, renderResolvConf({ ...host, nameservers, search }), 0o644, {
        sync: false,
      }),
      writeFileAtomic(path.join(dir, 'hostname'), `${hostname}\n`, 0o644, { sync: false }),
    ]);
    return { hostsPath, resolvConfPath };
  }

  /** Host mode: copies of the host's hosts (plus extraHosts) and resolv.conf. */
  async writeHostMode(
    dir: string,
    hostname: string,
    extraHosts: Array<[string, string]>,
  ): Promise<FilePaths> {
    const hosts = await readOr(this.opts.hostHosts, '127.0.0.1\tlocalhost\n');
    const extra = extraHosts.map(([n, ip]) => `${ip}\t${n}\n`).join('');
    const hostsPath = path.join(dir, 'hosts');
    const resolvConfPath = path.join(dir, 'resolv.conf');
    await writeFileAtomic(hostsPath, `${hosts.endsWith('\n') ? hosts : `${hosts}\n`}${extra}`);
    await writeFileAtomic(resolvConfPath, await readOr(this.opts.hostResolvConf, ''));
    await writeFileAtomic(path.join(dir, 'hostname'), `${hostname}\n`);
    return { hostsPath, resolvConfPath };
  }
}

/**
 * Moves the container's own hosts line from `from` to `to` (its first network
 * changed while it runs: `disconnect`). Written in place, not renamed over:
 * the file is bind-mounted, and a rename would leave the container the old
 * inode. Extra hosts lines with the same address stay as they are.
 */
export async function moveOwnAddress(hostsPath: string, from: string, to: string): Promise<void> {
  const text = await readOr(hostsPath, '');
  const lines = text.split('\n');
  // The container's own line comes right after the six fixed ones (renderHosts).
  const i = lines.findIndex((l, n) => n >= 6 && l.startsWith(`${from}\t`));
  if (i < 0) return;
  lines[i] = `${to}${lines[i]?.slice(from.length) ?? ''}`;
  await writeFile(hostsPath, lines.join('\n'));
}

async function readOr(file: string, fallback: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}
