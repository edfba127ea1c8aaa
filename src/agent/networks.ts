import type { ContainerManager } from '../../runtime/containers/manager.js';
import type { BridgeNetworkManager } from '../../runtime/network/bridge.js';
import type { NetworkVerbs } from '../../runtime/network/types.js';

/**
 * The API's network verbs: the network manager's own (create, list, inspect,
 * rm, prune) and the container manager's connect/disconnect, which change the
 * container record and tell subscribers (the DNS follows).
 */
export function networkVerbs(network: BridgeNetworkManager, manager: ContainerManager): NetworkVerbs {
  return {
    createNetwork: (req) => network.createNetwork(req),
    listNetworks: () => network.listNetworks(),
    inspectNetwork: (name) => network.inspectNetwork(name),
    removeNetwork: (name) => network.removeNetwork(name),
    pruneNetworks: () => network.pruneNetworks(),
    connect: (container, name, aliases) => manager.connectNetwork(container, name, aliases),
    disconnect: (container, name) => manager.disconnectNetwork(container, name),
  };
}
