import { resolve } from 'node:path';
import type { DeployDraft } from './draft.js';
import type { NodeReader } from './reader.js';
import { splitShellWords } from './shell-words.js';
import type {
  ComposeDependency,
  ComposeEnvFile,
  ComposeHealthcheck,
  ComposeUpdateConfig,
  DependsOnCondition,
} from './types.js';
import type { YMap, YNode } from './yaml-tree.js';

/** Readers of the service keys with structure; schema.ts says which key uses which. */

export function readCommand(r: NodeReader, node: YNode, path: string): string[] {
  if (node.kind === 'seq') return r.strList(node, path);
  const s = r.str(node, path);
  const words = splitShellWords(s);
  if (words === undefined) r.fail(node, path, `"${s}" has an unterminated quote`);
  return words;
}

export function readEnvFiles(r: NodeReader, node: YNode, path: string, workingDir: string): ComposeEnvFile[] {
  const items = node.kind === 'scalar' ? [node] : r.seq(node, path).items;
  return items.map((item, i) => {
    const p = node.kind === 'scalar' ? path : `${path}[${i}]`;
    if (item.kind !== 'map') return { path: resolve(workingDir, r.str(item, p)), required: true };
    r.onlyKeys(item, p, ['path', 'required']);
    const file = item.entries.get('path');
    if (file === undefined) return r.fail(item, p, 'an env_file entry needs "path"');
    const req = item.entries.get('required');
    return {
      path: resolve(workingDir, r.str(file.value, `${p}.path`)),
      required: req === undefined ? true : r.bool(req.value, `${p}.required`),
    };
  });
}

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

export function readRestart(r: NodeReader, node: YNode, path: string): string {
  const v = r.str(node, path);
  if (!RESTART.test(v)) r.fail(node, path, `"${v}" is not one of no, always, on-failure[:N], unless-stopped`);
  return v;
}

export function readHealthcheck(r: NodeReader, node: YNode, path: string): Partial<ComposeHealthcheck> {
  const m = r.map(node, path);
  r.onlyKeys(m, path, [
    'test',
    'interval',
    'timeout',
    'retries',
    'start_period',
    'start_interval',
    'disable',
  ]);
  const h: Partial<ComposeHealthcheck> = {};
  for (const [k, e] of m.entries) {
    const p = `${path}.${k}`;
    const v = e.value;
    if (k === 'test') {
      // A string runs through the container's shell, as CMD-SHELL.
      h.test = v.kind === 'seq' ? r.strList(v, p) : ['CMD-SHELL', r.str(v, p)];
      const first = h.test[0];
      if (!['CMD', 'CMD-SHELL', 'NONE'].includes(first ?? '')) {
        r.fail(v, p, `a test list starts with CMD, CMD-SHELL or NONE, not "${first ?? ''}"`);
      }
      if (first === 'NONE') h.disable = true;
    } else if (k === 'interval') h.intervalMs = r.durationMs(v, p);
    else if (k === 'timeout') h.timeoutMs = r.durationMs(v, p);
    else if (k === 'start_period') h.startPeriodMs = r.durationMs(v, p);
    else if (k === 'start_interval') h.startIntervalMs = r.durationMs(v, p);
    else if (k === 'retries') h.retries = r.int(v, p, 0);
    else h.disable = r.bool(v, p);
  }
  return h;
}

export function readUlimits(
  r: NodeReader,
  node: YNode,
  path: string,
): Record<string, { soft: number; hard: number }> {
  const out: Record<string, { soft: number; hard: number }> = {};
  for (const [k, e] of r.map(node, path).entries) {
    const p = `${path}.${k}`;
    if (e.value.kind !== 'map') {
      const n = r.int(e.value, p);
      out[k] = { soft: n, hard: n };
      continue;
    }
    r.onlyKeys(e.value, p, ['soft', 'hard']);
    const soft = e.value.entries.get('soft');
    const hard = e.value.entries.get('hard');
    if (soft === undefined || hard === undefined)
      r.fail(e.value, p, 'a ulimit mapping needs both "soft" and "hard"');
    out[k] = { soft: r.int(soft.value, `${p}.soft`), hard: r.int(hard.value, `${p}.hard`) };
  }
  return out;
}

export function readLogging(
  r: NodeReader,
  node: YNode,
  path: string,
): { driver?: string; options: Record<string, string> } {
  const m = r.map(node, path);
  r.onlyKeys(m, path, ['driver', 'options']);
  const out: { driver?: string; options: Record<string, string> } = { options: {} };
  const d = m.entries.get('driver');
  if (d !== undefined) out.driver = r.str(d.value, `${path}.driver`);
  const o = m.entries.get('options');
  if (o !== undefined && !(o.value.kind === 'scalar' && o.value.value === null)) {
    for (const [k, v] of r.keyValues(o.value, `${path}.options`)) out.options[k] = v.value ?? '';
  }
  return out;
}

export function readServiceNetworks(
  r: NodeReader,
  node: YNode,
  path: string,
): Record<string, { aliases: string[] }> {
  const out: Record<string, { aliases: string[] }> = {};
  if (node.kind === 'seq') {
    for (const name of r.strList(node, path)) out[name] = { aliases: [] };
    return out;
  }
  for (const [k, e] of r.map(node, path).entries) {
    const p = `${path}.${k}`;
    out[k] = { aliases: [] };
    if (e.value.kind === 'scalar' && e.value.value === null) continue;
    const m = r.map(e.value, p);
    r.onlyKeys(m, p, ['aliases']);
    const a = m.entries.get('aliases');
    if (a !== undefined) out[k] = { aliases: r.strList(a.value, `${p}.aliases`) };
  }
  return out;
}

const CONDITIONS: readonly DependsOnCondition[] = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
];

export function readDependsOn(r: NodeReader, node: YNode, path: string): Record<string, ComposeDependency> {
  const out: Record<string, ComposeDependency> = {};
  if (node.kind === 'seq') {
    for (const name of r.strList(node, path))
      out[name] = { condition: 'service_started', required: true, restart: false };
    return out;
  }
  for (const [k, e] of r.map(node, path).entries) {
    const p = `${path}.${k}`;
    const m = r.map(e.value, p);
    r.onlyKeys(m, p, ['condition', 'required', 'restart']);
    const c = m.entries.get('condition');
    const req = m.entries.get('required');
    const rs = m.entries.get('restart');
    out[k] = {
      condition: c === undefined ? 'service_started' : r.oneOf(c.value, `${p}.condition`, CONDITIONS),
      required: req === undefined ? true : r.bool(req.value, `${p}.required`),
      restart: rs === undefined ? false : r.bool(rs.value, `${p}.restart`),
    };
  }
  return out;
}

function readUpdateConfig(r: NodeReader, m: YMap, path: string): Partial<ComposeUpdateConfig> {
  r.onlyKeys(m, path, ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order']);
  const u: Partial<ComposeUpdateConfig> = {};
  for (const [k, e] of m.entries) {
    const p = `${path}.${k}`;
    if (k === 'parallelism') u.parallelism = r.int(e.value, p, 0);
    else if (k === 'delay') u.delayMs = r.durationMs(e.value, p);
    else if (k === 'monitor') u.monitorMs = r.durationMs(e.value, p);
    else if (k === 'failure_action')
      u.failureAction = r.oneOf(e.value, p, ['rollback', 'pause', 'continue'] as const);
    else if (k === 'order') u.order = r.oneOf(e.value, p, ['start-first', 'stop-first'] as const);
    else {
      const ratio = r.num(e.value, p);
      if (ratio < 0 || ratio > 1) r.fail(e.value, p, `${ratio} is not a ratio between 0 and 1`);
      u.maxFailureRatio = ratio;
    }
  }
  return u;
}

export function readDeploy(r: NodeReader, node: YNode, path: string): DeployDraft {
  const m = r.map(node, path);
  r.onlyKeys(m, path, ['replicas', 'resources', 'update_config', 'rollback_config', 'restart_policy']);
  const d: DeployDraft = {};
  for (const [k, e] of m.entries) {
    const p = `${path}.${k}`;
    if (k === 'replicas') d.replicas = r.int(e.value, p, 0);
    else if (k === 'update_config') d.updateConfig = readUpdateConfig(r, r.map(e.value, p), p);
    else if (k === 'rollback_config') d.rollbackConfig = readUpdateConfig(r, r.map(e.value, p), p);
    else if (k === 'resources') {
      const res = r.map(e.value, p);
      r.onlyKeys(res, p, ['limits']);
      const lim = res.entries.get('limits');
      if (lim === undefined) continue;
      const lp = `${p}.limits`;
      const lm = r.map(lim.value, lp);
      r.onlyKeys(lm, lp, ['cpus', 'memory', 'pids']);
      d.limits = {};
      for (const [lk, le] of lm.entries) {
        if (lk === 'cpus') d.limits.cpus = r.num(le.value, `${lp}.cpus`);
        else if (lk === 'memory') d.limits.memory = r.bytes(le.value, `${lp}.memory`);
        else d.limits.pids = r.int(le.value, `${lp}.pids`);
      }
    } else {
      const rp = r.map(e.value, p);
      r.onlyKeys(rp, p, ['condition', 'delay', 'max_attempts', 'window']);
      d.restartPolicy = {};
      for (const [rk, re] of rp.entries) {
        const q = `${p}.${rk}`;
        if (rk === 'condition')
          d.restartPolicy.condition = r.oneOf(re.value, q, ['none', 'on-failure', 'any'] as const);
        else if (rk === 'delay') d.restartPolicy.delayMs = r.durationMs(re.value, q);
        else if (rk === 'window') d.restartPolicy.windowMs = r.durationMs(re.value, q);
        else d.restartPolicy.maxAttempts = r.int(re.value, q, 0);
      }
    }
  }
  return d;
}
