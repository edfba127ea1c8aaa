import { InvalidArgumentError } from '../base/errors.js';
import { DEFAULT_NETWORK } from './net-names.js';
import type { NetworkRegistry } from './registry.js';
import type { Segment } from './segment.js';

/** Finds a network's Segment by the user's name: `bridge` is the default one, the others the registry's. */
export class Segments {
  constructor(
    readonly main: Segment,
    private readonly registry: NetworkRegistry,
  ) {}

  /** The segment of a network to join; InvalidArgument naming `field` when there is no such network. */
  async forJoin(name: string, field: string): Promise<Segment> {
    if (name === DEFAULT_NETWORK) return this.main;
    const def = await this.registry.find(name);
    if (!def || def.removing)
      throw new InvalidArgumentError(`${field}: no such network: ${name} (berth network create ${name})`, {
        field,
      });
    return this.registry.segment(def);
  }

  /** The segment of `name`, or undefined when the network is gone (teardown goes on without it). */
  async find(name: string): Promise<Segment | undefined> {
    if (name === DEFAULT_NETWORK) return this.main;
    const def = await this.registry.find(name).catch(() => undefined);
    return def ? this.registry.segment(def) : undefined;
  }
}
