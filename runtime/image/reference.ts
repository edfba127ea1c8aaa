import { InvalidArgumentError } from '../base/errors.js';

/**
 * Docker-compatible image references. berth stores and shows the familiar
 * form the user would write (`busybox:latest`, `127.0.0.1:5000/app:1`,
 * `app@sha256:…`) and pulls from the canonical one
 * (`docker.io/library/busybox:latest`).
 */
export interface ImageReference {
  /** Registry host[:port]; `docker.io` when the reference names none. */
  domain: string;
  /** Repository path on the registry (`library/busybox`, `team/app`). */
  path: string;
  tag?: string;
  digest?: string;
  /** Repository as shown: `busybox`, `team/app`, `127.0.0.1:5000/app`. */
  name: string;
  /** Normalised familiar reference: name plus `:tag` (default `latest`) and/or `@digest`. */
  ref: string;
}

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

function bad(input: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`image: ${JSON.stringify(input)} is not a valid reference: ${reason}`, {
    field: 'image',
  });
}

/** Parses a reference as `docker pull` accepts it; throws InvalidArgumentError naming the reason. */
export function parseReference(input: string): ImageReference {
  const s = input.trim();
  if (s === '') throw bad(input, 'it is empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(input, `digest must be sha256:<64 lowercase hex>, got ${digest}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw bad(input, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  const parts = rest.split('/');
  let domain = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))
  ) {
    if (!DOMAIN.test(first)) throw bad(input, `registry ${JSON.stringify(first)} is not a host[:port]`);
    domain = first === 'index.docker.io' ? DOCKER_HUB : first;
    parts.shift();
  }
  if (parts.length === 0 || rest === '') throw bad(input, 'the repository name is missing');
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      throw bad(
        input,
        p.toLowerCase() !== p
          ? 'repository name must be lowercase'
          : `path component ${JSON.stringify(p)} must be lowercase letters, digits and separators (. _ __ -)`,
      );
    }
  }
  let path = parts.join('/');
  if (domain === DOCKER_HUB && parts.length === 1) path = `library/${path}`;
  const name =
    domain === DOCKER_HUB
      ? path.startsWith('library/')
        ? path.slice('library/'.length)
        : path
      : `${domain}/${path}`;
  if (name.length > 255) throw bad(input, 'the repository name is longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  const ref = `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { domain, path, name, ref, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The normalised familiar form of a reference (`busybox` → `busybox:latest`). */
export function normalizeReference(input: string): string {
  return parseReference(input).ref;
}

/** Full reference as pulled: `docker.io/library/busybox:latest`. */
export function canonicalReference(r: ImageReference): string {
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The host to talk to for a reference's domain (Docker Hub's API lives elsewhere). */
export function registryHost(domain: string): string {
  return domain === DOCKER_HUB ? 'registry-1.docker.io' : domain;
}

/** Name and tag for descriptors; tag is '' for digest-only references. */
export function splitReference(ref: string): { name: string; tag: string } {
  const r = parseReference(ref);
  return { name: r.name, tag: r.tag ?? '' };
}
