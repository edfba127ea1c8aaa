import type { ServiceDraft } from './draft.js';
import type { Pos } from './errors.js';
import type { NodeReader } from './reader.js';
import { isExtension, NETWORK_KEYS, SERVICE_KEYS, TOP_LEVEL_KEYS, VOLUME_KEYS } from './schema.js';
import type { YMap, YNode } from './yaml-tree.js';

/** A top-level network or volume as one file states it. */
export interface ResourceDraft {
  name?: string;
  driver?: string;
  external?: boolean;
  internal?: boolean;
  labels?: Record<string, string>;
  pos: Pos;
}

/** What one Compose file declares, read and checked against the schema, before merging. */
export interface FileDraft {
  name?: { value: string; pos: Pos };
  services: Map<string, ServiceDraft>;
  networks: Map<string, ResourceDraft>;
  volumes: Map<string, ResourceDraft>;
}

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function readFile(r: NodeReader, root: YMap, workingDir: string): FileDraft {
  const out: FileDraft = { services: new Map(), networks: new Map(), volumes: new Map() };
  for (const [k, e] of root.entries) {
    if (isExtension(k)) continue;
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k)) {
      r.onlyKeys({ kind: 'map', entries: new Map([[k, e]]), pos: root.pos }, '', TOP_LEVEL_KEYS);
    }
  }
  const name = root.entries.get('name');
  if (name !== undefined) out.name = { value: r.str(name.value, 'name'), pos: name.value.pos };
  const services = root.entries.get('services');
  if (services !== undefined) {
    for (const [svc, e] of r.map(services.value, 'services').entries) {
      const path = `services.${svc}`;
      if (!SERVICE_NAME.test(svc)) r.fail(undefined, path, `"${svc}" is not a valid service name`);
      out.services.set(svc, readService(r, r.map(e.value, path), path, workingDir, e.keyPos));
    }
  }
  for (const kind of ['networks', 'volumes'] as const) {
    const section = root.entries.get(kind);
    if (section === undefined) continue;
    for (const [key, e] of r.map(section.value, kind).entries) {
      out[kind].set(
        key,
        readResource(r, e.value, `${kind}.${key}`, kind === 'networks' ? NETWORK_KEYS : VOLUME_KEYS),
      );
    }
  }
  return out;
}

function readService(r: NodeReader, m: YMap, path: string, workingDir: string, at: Pos): ServiceDraft {
  // '' is the service's own name, for refusals about the service as a whole.
  const draft: ServiceDraft = { fields: {}, pos: new Map([['', at]]) };
  const fields = draft.fields as Record<string, unknown>;
  for (const [k, e] of m.entries) {
    if (isExtension(k)) continue;
    const rule = SERVICE_KEYS[k];
    if (rule === undefined)
      r.onlyKeys({ kind: 'map', entries: new Map([[k, e]]), pos: m.pos }, path, Object.keys(SERVICE_KEYS));
    else {
      fields[rule.field] = rule.read(r, e.value, `${path}.${k}`, workingDir);
      draft.pos.set(k, e.keyPos);
      // Later checks (depends_on targets, replicas vs container_name) point at the nested key.
      if (e.value.kind === 'map') {
        for (const [sub, se] of e.value.entries) draft.pos.set(`${k}.${sub}`, se.keyPos);
      } else if (e.value.kind === 'seq') {
        e.value.items.forEach((item, i) => {
          draft.pos.set(`${k}[${i}]`, item.pos);
          // List forms of depends_on and networks name services and networks: point at the name.
          if (item.kind === 'scalar') draft.pos.set(`${k}.${String(item.value)}`, item.pos);
        });
      }
    }
  }
  return draft;
}

function readResource(r: NodeReader, node: YNode, path: string, keys: readonly string[]): ResourceDraft {
  const d: ResourceDraft = { pos: node.pos };
  if (node.kind === 'scalar' && node.value === null) return d;
  const m = r.map(node, path);
  r.onlyKeys(m, path, keys);
  for (const [k, e] of m.entries) {
    const p = `${path}.${k}`;
    if (k === 'name') d.name = r.str(e.value, p);
    else if (k === 'driver') {
      // berth creates its own bridges and local volumes; other drivers need plugins it does not have.
      d.driver = r.oneOf(e.value, p, path.startsWith('networks.') ? ['bridge'] : ['local']);
    } else if (k === 'external') d.external = r.bool(e.value, p);
    else if (k === 'internal') d.internal = r.bool(e.value, p);
    else {
      d.labels = {};
      for (const [lk, lv] of r.keyValues(e.value, p)) d.labels[lk] = lv.value ?? '';
    }
  }
  return d;
}
