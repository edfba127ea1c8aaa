export { BridgeNetworkManager, CHAINS } from './bridge.js';
export { parseSubnet } from './cidr.js';
export { parseExtraHosts } from './hostfiles.js';
export { Ipam } from './ipam.js';
export { formatPort, isPublished, parsePortSpec, validatePortMappings } from './portspec.js';
export type { BridgeNetworkOptions, NetworkMode } from './types.js';
export { NETWORK_MODES } from './types.js';
