/**
 * Prometheus text exposition (0.0.4) into samples, for tests that compare
 * two exporters: berth's /metrics and cAdvisor's. Escapes in label values
 * (\\, \", \n) are undone; a sample's optional timestamp (ms) is kept
 * (cAdvisor stamps each container sample with its housekeeping time).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the exporter gave one. */
  timestampMs?: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` of each family. */
  types: Map<string, string>;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/y;

function unescapeValue(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m?.[1] && m[2]) types.set(m[1], m[2]);
      continue;
    }
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const labels: Record<string, string> = {};
    let rest: string;
    let name: string;
    if (brace >= 0 && brace < space) {
      name = line.slice(0, brace);
      let i = brace + 1;
      while (line[i] !== '}') {
        LABEL.lastIndex = i;
        const m = LABEL.exec(line);
        if (!m?.[1] || m[2] === undefined)
          throw new Error(`exposition: bad labels in ${JSON.stringify(line)}`);
        labels[m[1]] = unescapeValue(m[2]);
        i = LABEL.lastIndex;
        if (line[i] === ',') i++;
      }
      rest = line.slice(i + 1).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const [value, ts] = rest.split(/\s+/);
    const sample: Sample = { name, labels, value: Number(value) };
    if (ts !== undefined) sample.timestampMs = Number(ts);
    samples.push(sample);
  }
  return { samples, types };
}

/** GETs `url` and parses it, with the time the request was sent and answered. */
export async function scrape(url: string): Promise<Exposition & { startMs: number; endMs: number }> {
  const startMs = Date.now();
  const res = await fetch(url, { headers: { accept: 'text/plain;version=0.0.4' } });
  const text = await res.text();
  const endMs = Date.now();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 200)}`);
  return { ...parseExposition(text), startMs, endMs };
}
