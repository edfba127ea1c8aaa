import type { ContainerDescriptor } from '../../runtime/types.js';
import type { CatalogView } from '../../sidecar/discovery/types.js';

/**
 * What the sidecars say about a replica taking traffic, asked by
 * `ReplicaOps.ready()`: undefined when it may, else what it still waits for.
 * Built by the agent from the catalog and the HAProxy manager (agent
 * composition), so src/deploy needs no sidecar object, only these reads.
 */
export interface ReadinessGate {
  waitingFor(c: ContainerDescriptor): string | undefined;
}

/** The slot view the HAProxy manager keeps (`HaproxyManager.slots()`), narrowed to what readiness reads. */
export type LbSlots = () => ReadonlyMap<
  string,
  { slots: ReadonlyArray<{ containerId: string | undefined; state: string; removing: boolean }> }
>;

/**
 * Registered and passing in the catalog, and a `ready` server slot in an
 * HAProxy backend, for a replica with `berth.lb.port` (a balanced service);
 * other replicas register nothing berth routes to, so running (and healthy)
 * is enough for them. Without HAProxy (`lbSlots` absent) only the catalog is
 * asked.
 */
export function catalogReadiness(view: () => CatalogView, lbSlots?: LbSlots): ReadinessGate {
  return {
    waitingFor(c) {
      if (c.labels['berth.lb.port'] === undefined) return undefined;
      const inst = view().instances.filter(
        (i) => i.containerId === c.id || i.meta['berth-container'] === c.id,
      );
      if (inst.length === 0) return 'registration in the catalog';
      if (!inst.every((i) => i.health === 'passing')) return 'a passing catalog health';
      if (lbSlots === undefined) return undefined;
      for (const backend of lbSlots().values()) {
        if (backend.slots.some((s) => s.containerId === c.id && s.state === 'ready' && !s.removing))
          return undefined;
      }
      return 'a ready server in the HAProxy backend';
    },
  };
}
