import { FailedPreconditionError, InvalidArgumentError, messageOf } from '../base/errors.js';
import type { PortMapping } from '../types.js';
import { CHAINS } from './bridge-setup.js';
import type { PortProbe } from './hostports.js';
import type { Iptables } from './iptables.js';
import { short } from './names.js';
import { formatPort, isPublished } from './portspec.js';
import type { AttachmentRecord } from './types.js';

const MAX_PORT_PICKS = 50;

/**
 * Published ports of bridge containers: host ports chosen (hostPort 0) or
 * checked (explicit) before any host state changes, then a DNAT and a
 * FORWARD rule per port, tagged `berth:<bridge>:<id12>` (README: "iptables
 * chains and rules").
 */
export class PortPublisher {
  constructor(
    private readonly bridge: string,
    private readonly ipt: Iptables,
    private readonly probeHostPort: PortProbe,
  ) {}

  /** The comment on a container's port rules. */
  tag(id: string, bridge = this.bridge): string {
    return `berth:${bridge}:${short(id)}`;
  }

  /**
   * Each published port with its host port: an explicit one is refused when
   * another bridge container (`records`) publishes it or a host process has it
   * bound; 0 becomes a free port.
   */
  async resolve(id: string, ports: PortMapping[], records: AttachmentRecord[]): Promise<PortMapping[]> {
    const taken = new Set<string>();
    for (const rec of records) {
      if (rec.id === id || rec.mode !== 'bridge') continue;
      for (const p of rec.ports) if (isPublished(p)) taken.add(`${p.protocol}:${p.hostPort}`);
    }
    const out: PortMapping[] = [];
    for (const p of ports) {
      if (!isPublished(p)) {
        out.push(p);
        continue;
      }
      const key = (port: number) => `${p.protocol}:${port}`;
      if (p.hostPort !== 0) {
        if (taken.has(key(p.hostPort)))
          throw new FailedPreconditionError(
            `ports: host port ${formatPort(p)} is already published by another container`,
          );
        if ((await this.probe(p.hostIp, p.hostPort, p.protocol)) === undefined)
          throw new FailedPreconditionError(
            `ports: host port ${p.hostIp}:${p.hostPort}/${p.protocol} is in use on the host`,
          );
        taken.add(key(p.hostPort));
        out.push(p);
        continue;
      }
      let picked: number | undefined;
      for (let i = 0; i < MAX_PORT_PICKS && picked === undefined; i++) {
        const port = await this.probe(p.hostIp, 0, p.protocol);
        if (port !== undefined && !taken.has(key(port))) picked = port;
      }
      if (picked === undefined)
        throw new FailedPreconditionError(
          `ports: no free host port for ${formatPort(p)} after ${MAX_PORT_PICKS} tries`,
        );
      taken.add(key(picked));
      out.push({ ...p, hostPort: picked });
    }
    return out;
  }

  private async probe(ip: string, port: number, protocol: 'tcp' | 'udp'): Promise<number | undefined> {
    try {
      return await this.probeHostPort(ip, port, protocol);
    } catch (err) {
      throw new InvalidArgumentError(
        `ports: cannot use host address ${ip}:${port}/${protocol}: ${messageOf(err)}`,
        {
          field: 'ports',
          cause: err,
        },
      );
    }
  }

  /** Adds (idempotently) the DNAT and FORWARD rules of each published port. */
  async addRules(id: string, address: string, ports: PortMapping[]): Promise<void> {
    const c = ['-m', 'comment', '--comment', this.tag(id)];
    for (const p of ports) {
      if (!isPublished(p)) continue;
      const dst = p.hostIp === '0.0.0.0' ? [] : ['-d', `${p.hostIp}/32`];
      const proto = ['-p', p.protocol, '-m', p.protocol];
      await this.ipt.ensureRule('nat', CHAINS.dnat, [
        ...proto,
        ...dst,
        '--dport',
        String(p.hostPort),
        ...c,
        '-j',
        'DNAT',
        '--to-destination',
        `${address}:${p.containerPort}`,
      ]);
      await this.ipt.ensureRule('filter', CHAINS.forward, [
        '-d',
        `${address}/32`,
        '-o',
        this.bridge,
        ...proto,
        '--dport',
        String(p.containerPort),
        ...c,
        '-j',
        'ACCEPT',
      ]);
    }
  }
}
