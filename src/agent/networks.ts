import { FailedPreconditionError } from '../../runtime/base/errors.js';
import type { ContainerManager } from '../../runtime/containers/manager.js';
import type { BridgeNetworkManager } from '../../runtime/network/bridge.js';
import type { NetworkVerbs } from '../../runtime/network/types.js';

/**
 * The API's network verbs: the network manager's own (create, list, inspect,
 * rm, prune) and the container manager's connect/disconnect, which change the
 * container record and tell subscribers (the DNS follows). rm and prune also
 * leave a network that a stopped container's config joins, as Docker's prune.
 */
export function networkVerbs(network: BridgeNetworkManager, manager: ContainerManager): NetworkVerbs {
  return {
    createNetwork: (req) => network.createNetwork(req),
    listNetworks: () => network.listNetworks(),
    inspectNetwork: (name) => network.inspectNetwork(name),
    removeNetwork: async (name) => {
      // Stopped containers too: their next start would fail on a network that is gone.
      const users = manager.containersOnNetwork(name);
      if (users.length > 0 && name !== 'bridge')
        throw new FailedPreconditionError(
          `network ${name} has containers attached: ${users.join(', ')}; remove them or disconnect them first`,
        );
      await network.removeNetwork(name);
    },
    pruneNetworks: () => network.pruneNetworks((n) => manager.containersOnNetwork(n.name).length === 0),
    connect: (container, name, aliases) => manager.connectNetwork(container, name, aliases),
    disconnect: (container, name) => manager.disconnectNetwork(container, name),
  };
}
