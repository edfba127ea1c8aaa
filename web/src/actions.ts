/**
 * The actions a person takes from the page, each confirmed in a dialog and
 * each through the same API route the CLI uses: `berth stop|start|restart`
 * (POST /v1/containers/:id/stop|start|restart), `berth scale` and
 * `berth rollback` (POST /v1/projects/:name/services/:svc/scale|rollback).
 */
import { ApiError, post, seg } from './api.js';
import { confirmAction, notify } from './dialog.js';

function failed(what: string, err: unknown): void {
  const msg = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
  notify(`${what} failed: ${msg}`, 'error');
}

export async function containerAction(name: string, verb: 'stop' | 'start' | 'restart'): Promise<boolean> {
  const texts = {
    stop: {
      body: `Stop ${name}? Its processes get SIGTERM, then SIGKILL after the grace period.`,
      danger: true,
    },
    start: { body: `Start ${name}?`, danger: false },
    restart: { body: `Restart ${name}? It stops (SIGTERM, then SIGKILL) and starts again.`, danger: true },
  }[verb];
  const ok = await confirmAction({
    title: `${verb[0]?.toUpperCase()}${verb.slice(1)} container`,
    body: texts.body,
    confirm: verb[0]?.toUpperCase() + verb.slice(1),
    danger: texts.danger,
  });
  if (ok === undefined) return false;
  try {
    await post(`/v1/containers/${seg(name)}/${verb}`);
    notify(`${name}: ${verb === 'stop' ? 'stopped' : verb === 'start' ? 'started' : 'restarted'}`);
    return true;
  } catch (err) {
    failed(`${verb} ${name}`, err);
    return false;
  }
}

/** The largest replica count the page offers (the API has its own limit and says so). */
const MAX_REPLICAS = 1000;

export async function scaleService(project: string, service: string, current: number): Promise<boolean> {
  const value = await confirmAction({
    title: 'Scale service',
    body: `Set the number of replicas of ${project}/${service} (now ${current}).`,
    confirm: 'Scale',
    input: {
      label: 'Replicas',
      value: String(current),
      check: (v) =>
        /^\d+$/.test(v) && Number(v) <= MAX_REPLICAS
          ? undefined
          : `replicas: must be a whole number 0–${MAX_REPLICAS}`,
    },
  });
  if (value === undefined) return false;
  try {
    await post(`/v1/projects/${seg(project)}/services/${seg(service)}/scale`, { replicas: Number(value) });
    notify(`${project}/${service}: scaling to ${value}`);
    return true;
  } catch (err) {
    failed(`scale ${project}/${service}`, err);
    return false;
  }
}

export async function rollbackService(project: string, service: string): Promise<boolean> {
  const ok = await confirmAction({
    title: 'Roll back service',
    body: `Roll ${project}/${service} back to its previous revision? Replicas are replaced one by one, new ones healthy before old ones are drained.`,
    confirm: 'Roll back',
    danger: true,
  });
  if (ok === undefined) return false;
  try {
    await post(`/v1/projects/${seg(project)}/services/${seg(service)}/rollback`);
    notify(`${project}/${service}: rolling back`);
    return true;
  } catch (err) {
    failed(`roll back ${project}/${service}`, err);
    return false;
  }
}
