import { FailedPreconditionError, NotImplementedError } from '../base/errors.js';
import type { NetworkJoin } from '../oci/types.js';
import type { ContainerDescriptor } from '../types.js';
import type { ContainerContext } from './context.js';

/**
 * `network connect` / `disconnect` on the container side: under the
 * container's lock, a running container gets (or loses) a link at once
 * through the network port, and its config remembers the change so the next
 * start joins the same networks (as Docker's). A stopped container's config
 * alone changes. Subscribers see `container.connected` / `.disconnected`
 * with the new descriptor (addresses and aliases), so the DNS follows.
 */
export class NetworkOps {
  constructor(private readonly ctx: ContainerContext) {}

  connect(idOrName: string, network: string, aliases: string[]): Promise<ContainerDescriptor> {
    const rec = this.ctx.find(idOrName);
    return this.ctx.locked(rec.id, async () => {
      const port = this.ctx.d.network;
      if (!port.connect) throw new NotImplementedError('network connect is not supported by this runtime');
      if (rec.config.network !== 'bridge')
        throw new FailedPreconditionError(
          `container ${rec.name} has network mode ${rec.config.network}; only bridge containers join networks`,
        );
      const joins = this.joinsOf(rec.config.networks);
      if (joins.some((j) => j.name === network))
        throw new FailedPreconditionError(`container ${rec.name} is already connected to network ${network}`);
      if (rec.state === 'running') rec.network = await port.connect(rec.id, network, aliases);
      else await port.inspectNetwork?.(network);
      rec.config.networks = [...joins, { name: network, aliases: [...new Set(aliases)] }];
      await this.ctx.store.save(rec);
      this.ctx.publish('container.connected', rec);
      return this.ctx.describe(rec);
    });
  }

  disconnect(idOrName: string, network: string): Promise<ContainerDescriptor> {
    const rec = this.ctx.find(idOrName);
    return this.ctx.locked(rec.id, async () => {
      const port = this.ctx.d.network;
      if (!port.disconnect)
        throw new NotImplementedError('network disconnect is not supported by this runtime');
      const joins = this.joinsOf(rec.config.networks);
      if (!joins.some((j) => j.name === network))
        throw new FailedPreconditionError(`container ${rec.name} is not connected to network ${network}`);
      if (joins.length === 1)
        throw new FailedPreconditionError(
          `container ${rec.name} is on network ${network} only; connect another network first`,
        );
      if (rec.state === 'running') rec.network = await port.disconnect(rec.id, network);
      rec.config.networks = joins.filter((j) => j.name !== network);
      await this.ctx.store.save(rec);
      this.ctx.publish('container.disconnected', rec);
      return this.ctx.describe(rec);
    });
  }

  /** Names of the containers, in any state, whose config joins `network` (a stopped one joins at its next start). */
  configuredOn(network: string): string[] {
    return [...this.ctx.records.values()]
      .filter(
        (r) =>
          r.config.network === 'bridge' && this.joinsOf(r.config.networks).some((j) => j.name === network),
      )
      .map((r) => r.name)
      .sort();
  }

  /** A config without `networks` is on the default network alone. */
  private joinsOf(networks: NetworkJoin[] | undefined): NetworkJoin[] {
    return networks && networks.length > 0 ? networks : [{ name: 'bridge', aliases: [] }];
  }
}
