import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../base/atomic-file.js';
import { InternalError, InvalidArgumentError } from '../base/errors.js';
import type { RegistryHostConfig } from './pull.js';

/** What `berth login` keeps for one registry. */
export interface RegistryLogin {
  username: string;
  password: string;
  /** PEM CA file on the agent host, for a registry with a private CA. */
  caFile?: string;
}

/**
 * The registries the agent has logged in to (`berth login`), in one file
 * readable by root only (0600), as Docker keeps `config.json`: the password
 * is stored as given, so the file's mode is the protection. `registries` is
 * the live map pulls read, keyed by registry domain (`localhost:5000`,
 * `docker.io`).
 */
export class RegistryAuthStore {
  readonly registries: Record<string, RegistryHostConfig> = {};

  constructor(private readonly file: string) {}

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new InternalError(`${this.file}: not JSON (remove it and log in again)`, { cause: err });
    }
    for (const [domain, v] of Object.entries((data as { auths?: Record<string, unknown> }).auths ?? {})) {
      const l = v as Partial<RegistryLogin>;
      if (typeof l.username === 'string' && typeof l.password === 'string') {
        this.registries[domain] = {
          username: l.username,
          password: l.password,
          ...(typeof l.caFile === 'string' ? { caFile: l.caFile } : {}),
        };
      }
    }
  }

  /** Registry domains with a login (never the passwords). */
  list(): string[] {
    return Object.keys(this.registries).sort();
  }

  async save(domain: string, login: RegistryLogin): Promise<void> {
    this.registries[domain] = { ...login };
    await this.persist();
  }

  /** False when there was no login for `domain`. */
  async remove(domain: string): Promise<boolean> {
    if (!(domain in this.registries)) return false;
    delete this.registries[domain];
    await this.persist();
    return true;
  }

  private persist(): Promise<void> {
    return writeFileAtomic(this.file, `${JSON.stringify({ auths: this.registries }, null, 2)}\n`, {
      mode: 0o600,
    });
  }
}

/**
 * The registry domain `berth login` names, as image references spell it:
 * scheme and path dropped, Docker Hub's aliases folded into `docker.io`.
 */
export function registryDomain(value: string): string {
  const d = value
    .trim()
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  if (d === '' || !/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:]+\](:\d+)?$/.test(d)) {
    throw new InvalidArgumentError(`registry: ${JSON.stringify(value)} is not a registry host[:port]`, {
      field: 'registry',
    });
  }
  return ['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(d) ? 'docker.io' : d;
}
