/**
 * Where a container comes from. In `--mode observe|both` the agent lists the
 * host's other containers beside its own (src/api/README.md, "Observed
 * containers"): those are read-only to berth (stop, start, restart are
 * refused with FailedPrecondition), so the page offers no action on them and
 * says who manages them and what to use instead, as the API's refusal does.
 * No DOM here (test/unit/web/source.test.ts runs it under Node); the badge
 * and the note are views/common.ts's.
 */
import type { Container, SourceName } from './types.js';

interface Owner {
  /** The badge and filter word. */
  label: string;
  /** "managed by …" */
  manager: string;
  /** "use …" (the API's refusal names the same tool). */
  tool: string;
}

const OWNERS: Record<SourceName, Owner> = {
  berth: { label: 'berth', manager: 'berth', tool: 'berth' },
  docker: { label: 'docker', manager: 'docker', tool: 'docker' },
  cri: { label: 'kubelet', manager: 'the kubelet', tool: 'kubectl or crictl' },
  cgroup: { label: 'cgroup', manager: 'the engine that started it', tool: 'the engine that started it' },
};

/** The sources in the order the filter offers them. */
export const SOURCES = Object.keys(OWNERS) as SourceName[];

export function ownerOf(source: string): Owner {
  return OWNERS[source as SourceName] ?? { label: source, manager: source, tool: source };
}

/** Whether berth only observes `c` (it did not start it and will not stop it). */
export const isObserved = (c: Pick<Container, 'source'>): boolean =>
  c.source !== undefined && c.source !== 'berth';
