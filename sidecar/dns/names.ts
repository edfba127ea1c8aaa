/** What a name under our domain asks for (Consul's naming, plus container names). */
export type Lookup =
  | { kind: 'apex' }
  | { kind: 'service'; service: string; tag?: string; dc?: string; rfc2782: boolean }
  | { kind: 'node'; node: string; dc?: string }
  | { kind: 'addr'; address: string; dc?: string }
  | { kind: 'container'; name: string }
  /** Under our domain but no name we answer: NXDOMAIN. */
  | { kind: 'unknown' };

/** Lower-case, no leading/trailing dots: `Consul.` → `consul`. */
export function normalizeDomain(d: string): string {
  return d.toLowerCase().replace(/^\.+|\.+$/g, '');
}

/** Labels of `name` below `domain`, or undefined when `name` is not inside `domain`. */
export function labelsUnder(name: string, domain: string): string[] | undefined {
  const n = name.toLowerCase().replace(/\.+$/, '');
  if (domain === '') return n === '' ? [] : n.split('.');
  if (n === domain) return [];
  if (!n.endsWith(`.${domain}`)) return undefined;
  return n.slice(0, n.length - domain.length - 1).split('.');
}

/**
 * Classifies the labels below the domain:
 * `[tag.]svc.service[.dc]`, `_svc._tag.service[.dc]` (RFC 2782; `_tcp`/`_udp`
 * mean any tag), `node.node[.dc]`, `<hex>.addr[.dc]`, and a single label as a
 * container name (when container names live in this domain).
 */
export function classify(labels: string[], containersHere: boolean): Lookup {
  const n = labels.length;
  if (n === 0) return { kind: 'apex' };
  for (const [kw, at] of [
    ['service', n - 1],
    ['service', n - 2],
    ['node', n - 1],
    ['node', n - 2],
    ['addr', n - 1],
    ['addr', n - 2],
  ] as const) {
    if (at < 1 || labels[at] !== kw) continue;
    const dc = at === n - 2 ? labels[n - 1] : undefined;
    const head = labels.slice(0, at);
    const withDc = <T extends object>(v: T): T & { dc?: string } => (dc !== undefined ? { ...v, dc } : v);
    if (kw === 'service') {
      const [a, b] = head;
      if (head.length === 1 && a !== undefined)
        return withDc({ kind: 'service', service: a, rfc2782: false });
      if (head.length === 2 && a !== undefined && b !== undefined) {
        if (a.startsWith('_') && b.startsWith('_') && a.length > 1 && b.length > 1) {
          const tag = b.slice(1);
          return withDc({
            kind: 'service',
            service: a.slice(1),
            rfc2782: true,
            ...(tag === 'tcp' || tag === 'udp' ? {} : { tag }),
          });
        }
        return withDc({ kind: 'service', service: b, tag: a, rfc2782: false });
      }
      return { kind: 'unknown' };
    }
    if (head.length !== 1 || head[0] === undefined) return { kind: 'unknown' };
    if (kw === 'node') return withDc({ kind: 'node', node: head[0] });
    const address = addressFromHex(head[0]);
    return address === undefined ? { kind: 'unknown' } : withDc({ kind: 'addr', address });
  }
  if (n === 1 && containersHere && labels[0] !== undefined) return { kind: 'container', name: labels[0] };
  return { kind: 'unknown' };
}

/** Consul's address-derived label: the address bytes in hex (`7f000001` for 127.0.0.1). */
export function hexOfAddress(address: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4 !== null) {
    return v4
      .slice(1)
      .map((p) => Number(p).toString(16).padStart(2, '0'))
      .join('');
  }
  const groups = expandIPv6(address);
  return groups?.map((g) => g.padStart(4, '0')).join('');
}

function addressFromHex(hex: string): string | undefined {
  if (/^[0-9a-f]{8}$/.test(hex)) {
    return [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');
  }
  if (/^[0-9a-f]{32}$/.test(hex)) {
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(Number.parseInt(hex.slice(i, i + 4), 16).toString(16));
    return compressIPv6(groups);
  }
  return undefined;
}

/** Eight hex groups of an IPv6 address, or undefined when it is not one (IPv4-mapped forms included). */
export function expandIPv6(address: string): string[] | undefined {
  if (!address.includes(':') || address.includes('.')) return undefined;
  const halves = address.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' && halves[1] !== undefined ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}

/** Canonical text (RFC 5952) of eight hex groups. */
export function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
