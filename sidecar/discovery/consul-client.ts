import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';

/** Where Consul's HTTP API is and how to talk to it. */
export interface ConsulConnection {
  host?: string;
  /** HTTP(S) API port, default 8500. */
  port?: number;
  secure?: boolean;
  /** PEM CA bundle to verify Consul's certificate (with `secure`). */
  ca?: string | Buffer;
  /** ACL token (sent as X-Consul-Token). */
  token?: string;
  /** Datacenter to read; default the agent's own. */
  datacenter?: string;
}

/** A service with its one TTL check, as the agent API registers it. */
export interface ServiceRegistration {
  id: string;
  name: string;
  tags: string[];
  meta: Record<string, string>;
  address: string;
  port: number;
  check: { checkid: string; name: string; ttl: string; status: string; timeout: string };
}

/** A ctx papi understands: cancelling it aborts the in-flight requests made with it. */
class RequestContext extends EventEmitter {
  readonly includeResponse = true;
  canceled = false;
  cancel(): void {
    this.canceled = true;
    this.emit('cancel');
  }
}

/** Request options the client passes through (its typings list fewer than it accepts). */
interface Req {
  token?: string;
  timeout?: number;
  stale?: boolean;
  index?: string;
  wait?: string;
  ctx?: EventEmitter;
}

interface HttpResponse {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The calls berth makes to Consul, typed: the npm client's typings are looser
 * than what it accepts and returns, so every cast lives here. Writes and
 * non-blocking reads time out after `timeoutMs`; blocking queries share one
 * request context that `cancel()` aborts.
 */
export class ConsulClient {
  private readonly http: HttpAgent;
  private readonly consul: Consul;
  private readonly ctx = new RequestContext();

  constructor(
    conn: ConsulConnection,
    private readonly timeoutMs: number,
  ) {
    this.http = conn.secure
      ? new HttpsAgent({ keepAlive: true, ...(conn.ca !== undefined ? { ca: conn.ca } : {}) })
      : new HttpAgent({ keepAlive: true });
    const defaults: { token?: string; dc?: string } = {};
    if (conn.token !== undefined) defaults.token = conn.token;
    if (conn.datacenter !== undefined) defaults.dc = conn.datacenter;
    this.consul = new Consul({
      host: conn.host ?? '127.0.0.1',
      port: conn.port ?? 8500,
      secure: conn.secure ?? false,
      agent: this.http,
      defaults,
    });
  }

  // ---- agent writes ---------------------------------------------------------

  async registerService(reg: ServiceRegistration): Promise<void> {
    const o: Req = { timeout: this.timeoutMs };
    await this.consul.agent.service.register({ ...reg, ...o });
  }

  /** Deregisters; one the agent does not know (404) is already what we want. */
  async deregisterService(id: string): Promise<void> {
    const o: Req = { timeout: this.timeoutMs };
    await this.consul.agent.service.deregister({ id, ...o }).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err;
    });
  }

  async setMaintenance(id: string, enable: boolean, reason?: string): Promise<void> {
    const o: Req = { timeout: this.timeoutMs };
    await this.consul.agent.service.maintenance({
      id,
      enable,
      ...(reason !== undefined ? { reason } : {}),
      ...o,
    });
  }

  async feedCheck(checkId: string, status: 'passing' | 'warning' | 'critical', note?: string): Promise<void> {
    const check = { id: checkId, ...(note !== undefined ? { note } : {}), timeout: this.timeoutMs };
    if (status === 'passing') await this.consul.agent.check.pass(check);
    else if (status === 'warning') await this.consul.agent.check.warn(check);
    else await this.consul.agent.check.fail(check);
  }

  // ---- agent reads ----------------------------------------------------------

  /** The local agent's services and checks, as Consul returns them (decoded by consul-decode.ts). */
  async agentServicesAndChecks(): Promise<[services: unknown, checks: unknown]> {
    const o: Req = { timeout: this.timeoutMs };
    return Promise.all([this.consul.agent.service.list(o), this.consul.agent.checks(o)]);
  }

  /** The local agent's own node: name, address and datacenter when it says. */
  async agentNode(): Promise<{ name?: string; address?: string; datacenter?: string }> {
    const self: unknown = await this.consul.agent.self({ timeout: this.timeoutMs } as { token?: string });
    const cfg = isObject(self) && isObject(self.Config) ? self.Config : {};
    const member = isObject(self) && isObject(self.Member) ? self.Member : {};
    const info: { name?: string; address?: string; datacenter?: string } = {};
    if (typeof cfg.NodeName === 'string') info.name = cfg.NodeName;
    if (typeof member.Addr === 'string') info.address = member.Addr;
    if (typeof cfg.Datacenter === 'string') info.datacenter = cfg.Datacenter;
    return info;
  }

  // ---- catalog reads (stale allowed) -----------------------------------------

  /** Blocks until the check states change past `index` (or `wait` passes); the new index. */
  async waitChecks(index: string, wait: string, timeoutMs: number): Promise<string | undefined> {
    const opts = { state: 'any' as const, index, wait, stale: true, ctx: this.ctx, timeout: timeoutMs };
    const [res] = (await this.consul.health.state(opts)) as unknown as [HttpResponse, unknown];
    return headerIndex(res);
  }

  /** Blocks until the service list changes past `index` (or `wait` passes); the new index. */
  async waitServices(index: string, wait: string, timeoutMs: number): Promise<string | undefined> {
    const opts: Req = { index, wait, stale: true, ctx: this.ctx, timeout: timeoutMs };
    const [res] = (await this.consul.catalog.service.list(opts)) as unknown as [HttpResponse, unknown];
    return headerIndex(res);
  }

  /** The catalog's service list (decoded with consul-decode.ts serviceNames). */
  services(): Promise<unknown> {
    const o: Req = { stale: true, timeout: this.timeoutMs };
    return this.consul.catalog.service.list(o);
  }

  /** The health entries of one service (node, service, checks). */
  async serviceHealth(service: string): Promise<unknown[]> {
    const o: Req = { stale: true, timeout: this.timeoutMs };
    const entries: unknown = await this.consul.health.service({ service, ...o });
    return Array.isArray(entries) ? entries : [];
  }

  /** Aborts the blocking queries in flight. */
  cancel(): void {
    this.ctx.cancel();
  }

  /** Closes the kept-alive connections. */
  destroy(): void {
    this.http.destroy();
  }
}

function headerIndex(res: HttpResponse): string | undefined {
  const h = res.headers['x-consul-index'];
  const v = Array.isArray(h) ? h[0] : h;
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

/** The HTTP status Consul answered with, when the error (or its cause) carries one. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof Error && 'statusCode' in err) {
    try {
      const s = (err as { statusCode: unknown }).statusCode;
      return typeof s === 'number' ? s : undefined;
    } catch {
      // A throwing getter on a foreign error object: no status to read.
      return undefined;
    }
  }
  if (err instanceof Error && err.cause !== undefined) return statusOf(err.cause);
  return undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
