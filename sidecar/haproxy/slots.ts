import type { LbSpec } from './labels.js';
import { sameSpec } from './labels.js';
import type { DesiredServer, DesiredState } from './model.js';

/**
 * What berth believes one pre-allocated server slot (`server s<N>` in a
 * backend) holds in the running HAProxy. `maint` without an instance is a
 * free slot. `removing` marks a slot whose instance left the catalog: it is
 * in drain until its sessions end (or the drain timeout), then it is freed.
 */
export interface SlotState {
  /** 1-based; the server is named `s<slot>`. */
  slot: number;
  state: 'ready' | 'drain' | 'maint';
  instanceId: string | undefined;
  address: string;
  port: number;
  containerId: string | undefined;
  node: string | undefined;
  service: string | undefined;
  removing: boolean;
  /** preStop put this slot in drain: it stays there until then (ms since epoch) whatever the catalog says. */
  heldUntil: number | undefined;
  /** When the drain of a removing slot started (ms since epoch). */
  drainSince: number | undefined;
}

export interface BackendState {
  spec: LbSpec;
  slots: SlotState[];
  /** Since when the service has had no instance (for `emptyServiceRetention`). */
  emptySince: number | undefined;
}

/** Backends by LB service name. */
export type LbState = Map<string, BackendState>;

export interface Plan {
  next: LbState;
  /** Needs a reload: a frontend/backend appeared, went or changed, or a backend ran out of slots. */
  structural: boolean;
  reasons: string[];
  /** Runtime API commands that take the running HAProxy from the previous state to `next` (when not structural). */
  commands: string[];
}

export const backendName = (service: string): string => `be_${service}`;
export const frontendName = (service: string): string => `fe_${service}`;

export function freeSlot(slot: number): SlotState {
  return {
    slot,
    state: 'maint',
    instanceId: undefined,
    address: '0.0.0.0',
    port: 0,
    containerId: undefined,
    node: undefined,
    service: undefined,
    removing: false,
    heldUntil: undefined,
    drainSince: undefined,
  };
}

export function cloneState(state: LbState): LbState {
  const out: LbState = new Map();
  for (const [name, be] of state) out.set(name, { ...be, slots: be.slots.map((s) => ({ ...s })) });
  return out;
}

const roundUp = (n: number, step: number): number => Math.max(step, Math.ceil(n / step) * step);

/**
 * Pure: the next slot state for `desired` and the Runtime API commands to get
 * there, or `structural` when only a reload can. Instances keep their slot
 * for life (no reshuffling, so sessions and stick tables stay put); new ones
 * take the lowest free slot; removed ones drain first.
 */
export function planSlots(
  prev: LbState,
  desired: DesiredState,
  opts: { now: number; slotsPerBackend: number; emptyServiceRetentionMs: number },
): Plan {
  const next = cloneState(prev);
  const reasons: string[] = [];
  const commands: string[] = [];
  const cmd = (svc: string, s: SlotState, what: string): void => {
    commands.push(`set server ${backendName(svc)}/s${s.slot} ${what}`);
  };

  for (const [name, want] of desired.services) {
    const be = next.get(name);
    if (be === undefined) {
      reasons.push(`new service ${name}`);
      const slots = Array.from({ length: roundUp(want.servers.length, opts.slotsPerBackend) }, (_, i) =>
        freeSlot(i + 1),
      );
      const nb: BackendState = {
        spec: want.spec,
        slots,
        emptySince: want.servers.length === 0 ? opts.now : undefined,
      };
      want.servers.forEach((d, i) => {
        const s = slots[i];
        if (s !== undefined) occupy(s, d);
      });
      next.set(name, nb);
      continue;
    }
    if (!sameSpec(be.spec, want.spec)) {
      reasons.push(`service ${name} changed its berth.lb.* labels`);
      be.spec = want.spec;
    }
    be.emptySince = want.servers.length === 0 ? (be.emptySince ?? opts.now) : undefined;
    const wanted = new Map(want.servers.map((d) => [d.instanceId, d]));
    // Instances already in a slot: follow address and state changes.
    for (const s of be.slots) {
      if (s.instanceId === undefined) continue;
      const d = wanted.get(s.instanceId);
      if (d === undefined) {
        if (!s.removing && s.state !== 'maint') {
          s.removing = true;
          s.drainSince = opts.now;
          if (s.state !== 'drain') {
            s.state = 'drain';
            cmd(name, s, 'state drain');
          }
        } else if (!s.removing) {
          // In maint already (e.g. maintenance rendered as disabled by a reload): free at once.
          Object.assign(s, freeSlot(s.slot));
        }
        continue;
      }
      wanted.delete(s.instanceId);
      s.removing = false;
      s.drainSince = undefined;
      if (s.address !== d.address || s.port !== d.port) {
        s.address = d.address;
        s.port = d.port;
        cmd(name, s, `addr ${d.address} port ${d.port}`);
      }
      s.containerId = d.containerId;
      s.node = d.node;
      s.service = d.service;
      const held = s.heldUntil !== undefined && s.heldUntil > opts.now;
      if (!held) s.heldUntil = undefined;
      const target = held ? 'drain' : d.state;
      if (s.state !== target) {
        s.state = target;
        cmd(name, s, `state ${target}`);
      }
    }
    // New instances take the lowest free slots.
    const newcomers = [...wanted.values()];
    const free = be.slots.filter((s) => s.instanceId === undefined);
    if (newcomers.length > free.length) {
      reasons.push(`backend ${backendName(name)} needs more than ${be.slots.length} slots`);
      const used = be.slots.filter((s) => s.instanceId !== undefined && !s.removing).length;
      const size = roundUp(used + newcomers.length, opts.slotsPerBackend);
      for (let n = be.slots.length + 1; n <= size; n++) be.slots.push(freeSlot(n));
    }
    for (const d of newcomers) {
      const s = be.slots.find((x) => x.instanceId === undefined);
      if (s === undefined) break;
      occupy(s, d);
      cmd(name, s, `addr ${d.address} port ${d.port}`);
      cmd(name, s, `state ${d.state}`);
    }
  }

  // Services no instance declares any more: drain what is left, keep the frontend for the retention time.
  for (const [name, be] of next) {
    if (desired.services.has(name)) continue;
    be.emptySince ??= opts.now;
    for (const s of be.slots) {
      if (s.instanceId === undefined) continue;
      if (s.state === 'maint' && !s.removing) {
        Object.assign(s, freeSlot(s.slot));
      } else if (!s.removing) {
        s.removing = true;
        s.drainSince = opts.now;
        if (s.state !== 'drain') {
          s.state = 'drain';
          cmd(name, s, 'state drain');
        }
      }
    }
    const busy = be.slots.some((s) => s.instanceId !== undefined);
    if (!busy && opts.now - be.emptySince >= opts.emptyServiceRetentionMs) {
      reasons.push(`service ${name} has had no instance for ${opts.emptyServiceRetentionMs} ms`);
      next.delete(name);
    }
  }

  const structural = reasons.length > 0;
  if (structural) normaliseForReload(next);
  return { next, structural, reasons, commands: structural ? [] : commands };
}

function occupy(s: SlotState, d: DesiredServer): void {
  s.instanceId = d.instanceId;
  s.address = d.address;
  s.port = d.port;
  s.state = d.state;
  s.containerId = d.containerId;
  s.node = d.node;
  s.service = d.service;
  s.removing = false;
  s.heldUntil = undefined;
  s.drainSince = undefined;
}

/**
 * What a freshly loaded worker will hold: a reload hands draining sessions to
 * the old worker (which finishes them until `hard-stop-after`), so removing
 * slots start free, and slots in drain start disabled (maint).
 */
export function normaliseForReload(state: LbState): void {
  for (const be of state.values()) {
    for (const s of be.slots) {
      if (s.removing) Object.assign(s, freeSlot(s.slot));
      else if (s.state === 'drain') s.state = 'maint';
    }
  }
}

/** The drain of a removing slot is over: put it in maint and free it. Returns the command. */
export function finishDrain(state: LbState, service: string, slot: number): string | undefined {
  const s = state.get(service)?.slots.find((x) => x.slot === slot);
  if (s === undefined || !s.removing) return undefined;
  Object.assign(s, freeSlot(slot));
  return `set server ${backendName(service)}/s${slot} state maint`;
}
