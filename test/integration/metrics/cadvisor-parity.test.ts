/**
 * berth's /metrics against cAdvisor's own code on the same live containers:
 * a real agent (runc + conmon) runs a CPU loop under a quota, an 8 MB
 * allocation under a memory limit with a file in its layer, a direct-I/O
 * burst and an idle process with a pids limit; cAdvisor v0.57's library
 * (raw cgroup factory, test/tools/cadvisor) watches exactly those cgroups.
 * Both are scraped together twice, 6 s apart. For every family both export
 * the label sets must match and the values agree within parity-rules.ts;
 * a family both export that is neither compared nor listed there, or a
 * family cAdvisor has for these containers that berth lacks and
 * sidecar/metrics/README.md does not list as left out, fails the test.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { writableLayerDir } from '../../../sidecar/metrics/layer-usage.js';
import { startAgent, type TestAgent } from '../../harness/agent.js';
import { type CadvisorHandle, startCadvisor } from '../../harness/cadvisor.js';
import { type Exposition, type Sample, scrape } from '../../harness/exposition.js';
import { buildBusyboxImage } from '../../harness/images.js';
import { pollUntil } from '../../harness/proc.js';
import { removeDir, tempDir } from '../../harness/tmp.js';
import { COMPARED, CONTAINER_LABELS, NOT_COMPARED, type Rule } from './parity-rules.js';

const IMAGE = 'test/busybox:parity';
const README = join(fileURLToPath(new URL('.', import.meta.url)), '../../../sidecar/metrics/README.md');
const WINDOW_MS = 6000;

interface Box {
  name: string;
  id: string;
  cgroup: string;
  pid: number;
  upper: string;
}

let agent: TestAgent | undefined;
let cadvisor: CadvisorHandle | undefined;
let dir: string | undefined;
const boxes: Box[] = [];
let berthUrl = '';
type Scrape = Exposition & { startMs: number; endMs: number };
let first: { berth: Scrape; cadvisor: Scrape };
let second: { berth: Scrape; cadvisor: Scrape };
/**
 * berth scraped back to back in the seconds before (and including) the
 * second read: cAdvisor's values were read at its last housekeeping, up to
 * a second or more earlier, and a counter such as throttled time moves in
 * bursts, so its value is compared with the berth reads on either side of
 * that moment rather than extrapolated at an average rate.
 */
const trail: Scrape[] = [];

async function ok(args: string[]): Promise<string> {
  if (!agent) throw new Error('no agent');
  const r = await agent.cli(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Both exporters at once, so gauges are read at the same moment. */
async function scrapeBoth(): Promise<{ berth: Scrape; cadvisor: Scrape }> {
  if (!cadvisor) throw new Error('no cadvisor');
  const [b, c] = await Promise.all([scrape(berthUrl), scrape(cadvisor.url)]);
  return { berth: b, cadvisor: c };
}

const ids = () => new Set(boxes.map((b) => b.cgroup));
const isOurs = (s: Sample) => ids().has(s.labels.id ?? '');
/** Labels beyond id/name/image (cpu, device, interface), as a stable key. */
function extraKey(s: Sample): string {
  return Object.entries(s.labels)
    .filter(
      ([k]) => !(CONTAINER_LABELS as readonly string[]).includes(k) && !k.startsWith('container_label_'),
    )
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
/** When the exporter read the value: cAdvisor's sample timestamp, else the middle of the scrape. */
const readAt = (s: Sample, x: Scrape) => s.timestampMs ?? (x.startMs + x.endMs) / 2;
const allowed = (r: Rule, a: number, b: number) => r.abs + r.rel * Math.max(Math.abs(a), Math.abs(b));

/**
 * berth's reads of one series just before and just after `atMs`, from the
 * trail: the last scrape that ended by then and the first that started
 * after it (a scrape reads somewhere between its start and end).
 */
function bracket(
  family: string,
  like: Sample,
  atMs: number,
): { below: { value: number; at: number }; above: { value: number; at: number } } | undefined {
  const key = `${like.labels.id} ${extraKey(like)}`;
  const valueIn = (x: Scrape) =>
    x.samples.find((s) => s.name === family && `${s.labels.id} ${extraKey(s)}` === key)?.value;
  let below: { value: number; at: number } | undefined;
  let above: { value: number; at: number } | undefined;
  for (const x of trail) {
    const v = valueIn(x);
    if (v === undefined) continue;
    if (x.endMs <= atMs) below = { value: v, at: x.endMs };
    else if (x.startMs >= atMs && !above) above = { value: v, at: x.startMs };
  }
  return below && above ? { below, above } : undefined;
}

/** Pairs of (berth, cAdvisor) series of one family for one rule, keyed for messages. */
function pairs(
  family: string,
  rule: Rule,
  b: Scrape,
  c: Scrape,
): { key: string; berth?: Sample; cadvisor?: Sample }[] {
  const scope = rule.scope ?? 'container';
  const bs = b.samples.filter((s) => s.name === family && (scope === 'machine' || isOurs(s)));
  const cs = c.samples.filter(
    (s) =>
      s.name === family &&
      (scope === 'machine' ? true : scope === 'filesystem' ? s.labels.id === '/' : isOurs(s)),
  );
  const out = new Map<string, { key: string; berth?: Sample; cadvisor?: Sample }>();
  // cAdvisor's machine series carry boot_id, machine_id and system_uuid, which berth leaves out: one series each.
  const keyOf = (s: Sample) =>
    scope === 'container' ? `${s.labels.id} ${extraKey(s)}` : scope === 'machine' ? '' : extraKey(s);
  for (const s of bs) {
    const key = keyOf(s);
    const p = out.get(key) ?? { key };
    p.berth = s;
    out.set(key, p);
  }
  for (const s of cs) {
    const key = keyOf(s);
    // cAdvisor's root has every filesystem; only the ones berth's containers are on pair up.
    if (scope === 'filesystem' && !out.has(key)) continue;
    const p = out.get(key) ?? { key };
    p.cadvisor = s;
    out.set(key, p);
  }
  return [...out.values()];
}

/** Families with series for these containers (cAdvisor: or its root, whose fs and network series stand for them). */
function familiesOf(x: Scrape, withRoot: boolean): Set<string> {
  const out = new Set<string>();
  for (const s of x.samples) {
    if (
      s.name.startsWith('machine_') &&
      (s.name === 'machine_cpu_cores' || s.name === 'machine_memory_bytes')
    ) {
      out.add(s.name);
    }
    if (!s.name.startsWith('container_')) continue;
    if (isOurs(s) || (withRoot && s.labels.id === '/')) out.add(s.name);
  }
  return out;
}

describe('berth and cAdvisor measure the same live containers alike', () => {
  before(async () => {
    dir = await tempDir('berth-parity-');
    agent = await startAgent();
    berthUrl = String(((await agent.info()).endpoints as Record<string, string>).metrics);
    const tar = await buildBusyboxImage({
      format: 'docker',
      ref: IMAGE,
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
    });
    await ok(['load', '-i', tar]);
    const runs: [string, string[], string][] = [
      ['cpu', ['--cpus', '0.5'], 'while :; do :; done'],
      // 8 MB of anonymous memory (a shell variable) and 8 MB in the writable layer; sh waits on sleep: 2 processes.
      [
        'mem',
        ['--memory', '64m'],
        "head -c 8000000 /dev/zero | tr '\\0' a > /big; x=$(cat /big); while :; do sleep 100000; done",
      ],
      // Direct I/O (buffered writes are charged to the root cgroup on v1), done before the window.
      [
        'io',
        [],
        'dd if=/dev/zero of=/f bs=64k count=16 oflag=direct 2>/dev/null; dd if=/f of=/dev/null bs=64k iflag=direct 2>/dev/null; exec sleep 100000',
      ],
      ['idle', ['--pids-limit', '50'], 'exec sleep 100000'],
    ];
    for (const [name, flags, script] of runs)
      await ok(['run', '-d', '--name', name, ...flags, IMAGE, 'sh', '-c', script]);
    for (const [name] of runs) {
      const [d] = JSON.parse(await ok(['inspect', name])) as {
        id: string;
        pid: number;
        cgroupPath: string;
      }[];
      if (!d) throw new Error(`inspect ${name}`);
      const upper = writableLayerDir(readFileSync(`/proc/${d.pid}/mountinfo`, 'utf8'));
      assert.ok(upper, `${name}: no overlay upper dir in its mountinfo`);
      boxes.push({ name, id: d.id, cgroup: d.cgroupPath, pid: d.pid, upper });
    }
    // Let start-up settle: mem has written and read its 8 MB, io its burst.
    await pollUntil(
      'mem to hold its 8 MB and io to finish its burst',
      async () => {
        const procs = (n: string) => {
          const b = boxes.find((x) => x.name === n);
          return b
            ? readFileSync(`/sys/fs/cgroup/memory${b.cgroup}/cgroup.procs`, 'utf8').trim().split('\n').length
            : 0;
        };
        const rss = Number(
          /^total_rss (\d+)/m.exec(
            readFileSync(
              `/sys/fs/cgroup/memory${boxes.find((x) => x.name === 'mem')?.cgroup}/memory.stat`,
              'utf8',
            ),
          )?.[1] ?? 0,
        );
        return procs('mem') === 2 && procs('io') === 1 && rss > 7_000_000 ? true : undefined;
      },
      30_000,
    );
    // cAdvisor's daemon defaults (docs/runtime_options.md) plus process, minus percpu (berth exports cpu="total"):
    // housekeeping every second without backing off, so its figures are at most ~1 s old.
    cadvisor = await startCadvisor({
      prefixes: boxes.map((b) => b.cgroup),
      dir,
      dynamicHousekeeping: false,
      metrics: [
        'app',
        'cpu',
        'cpuLoad',
        'disk',
        'diskIO',
        'memory',
        'network',
        'oom_event',
        'perf_event',
        'pressure',
        'process',
      ],
    });
    // Both have seen every container (cAdvisor: a housekeeping; berth: its first layer walk).
    await pollUntil(
      'both exporters to report every container',
      async () => {
        const { berth: b, cadvisor: c } = await scrapeBoth();
        const seen = (x: Scrape, family: string) =>
          new Set(x.samples.filter((s) => s.name === family && isOurs(s)).map((s) => s.labels.id)).size;
        return seen(b, 'container_fs_usage_bytes') === boxes.length &&
          seen(c, 'container_memory_usage_bytes') === boxes.length &&
          seen(c, 'container_processes') === boxes.length
          ? true
          : undefined;
      },
      30_000,
      500,
    );
    first = await scrapeBoth();
    await sleep(WINDOW_MS - 3000);
    // Bounded: a scrape every 40 ms or so for the last 3 s, at most 100.
    const trailUntil = Date.now() + 3000;
    while (Date.now() < trailUntil && trail.length < 100) {
      trail.push(await scrape(berthUrl));
      await sleep(20);
    }
    second = await scrapeBoth();
    trail.push(second.berth);
  });

  after(async () => {
    await cadvisor?.stop();
    await agent?.stop();
    if (dir) await removeDir(dir);
  });

  test('every family both export is compared or listed with its reason', () => {
    const both = [...familiesOf(second.berth, false)].filter((f) => familiesOf(second.cadvisor, true).has(f));
    assert.ok(both.length >= 30, `only ${both.length} families in common: ${both.join(', ')}`);
    const unchecked = both.filter((f) => !(f in COMPARED) && !(f in NOT_COMPARED));
    assert.deepEqual(unchecked, [], 'families both export that parity-rules.ts neither compares nor excuses');
    const stale = Object.keys(COMPARED).filter((f) => !both.includes(f) && f !== 'container_spec_cpu_quota');
    assert.deepEqual(stale, [], 'compared families one side did not export');
  });

  test('families cAdvisor has for these containers and berth lacks are listed in the metrics README, with why', () => {
    const readme = readFileSync(README, 'utf8');
    const m = /<!-- cadvisor-left-out:begin -->([\s\S]*?)<!-- cadvisor-left-out:end -->/.exec(readme);
    assert.ok(m?.[1], 'the README has no cadvisor-left-out list');
    const listed = new Set([...m[1].matchAll(/`(container_[a-z0-9_]+)`/g)].map((x) => x[1]));
    const berthHas = familiesOf(second.berth, false);
    const missing = [...familiesOf(second.cadvisor, false)].filter((f) => !berthHas.has(f) && !listed.has(f));
    assert.deepEqual(missing, [], 'cAdvisor families berth neither exports nor lists as left out');
  });

  test('label sets match: id is the cgroup path on both; berth adds name and image; other labels equal', () => {
    for (const family of Object.keys(COMPARED)) {
      const rule = COMPARED[family] as Rule;
      for (const p of pairs(family, rule, second.berth, second.cadvisor)) {
        assert.ok(p.berth, `${family} {${p.key}}: cAdvisor has it, berth does not`);
        assert.ok(p.cadvisor, `${family} {${p.key}}: berth has it, cAdvisor does not`);
        if ((rule.scope ?? 'container') !== 'container') continue;
        const box = boxes.find((b) => b.cgroup === p.berth?.labels.id);
        assert.ok(box);
        assert.equal(p.cadvisor.labels.id, box.cgroup);
        assert.equal(
          p.cadvisor.labels.name ?? '',
          '',
          `${family}: cAdvisor's raw handler names no container`,
        );
        assert.equal(p.cadvisor.labels.image ?? '', '');
        assert.equal(p.berth.labels.name, box.name);
        assert.equal(p.berth.labels.image, IMAGE);
        const names = (s: Sample) =>
          Object.keys(s.labels)
            .filter((k) => !(CONTAINER_LABELS as readonly string[]).includes(k))
            .sort();
        assert.deepEqual(names(p.berth), names(p.cadvisor), `${family}: label names`);
      }
    }
  });

  test('gauges agree at the same moment', () => {
    const failures: string[] = [];
    let compared = 0;
    for (const [family, rule] of Object.entries(COMPARED)) {
      if (rule.kind !== 'gauge') continue;
      for (const p of pairs(family, rule, second.berth, second.cadvisor)) {
        if (!p.berth || !p.cadvisor) continue;
        compared++;
        const d = Math.abs(p.berth.value - p.cadvisor.value);
        if (d > allowed(rule, p.berth.value, p.cadvisor.value)) {
          failures.push(`${family} {${p.key}}: berth ${p.berth.value}, cAdvisor ${p.cadvisor.value}`);
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(compared >= 40, `only ${compared} gauge series compared`);
  });

  test('counters agree over the same window: rates, and values once the read times are allowed for', (t) => {
    const failures: string[] = [];
    let compared = 0;
    let bracketed = 0;
    for (const [family, rule] of Object.entries(COMPARED)) {
      if (rule.kind !== 'counter') continue;
      const before = new Map(pairs(family, rule, first.berth, first.cadvisor).map((p) => [p.key, p]));
      for (const p of pairs(family, rule, second.berth, second.cadvisor)) {
        const q = before.get(p.key);
        if (!p.berth || !p.cadvisor || !q?.berth || !q.cadvisor) continue;
        compared++;
        const tb = [readAt(q.berth, first.berth), readAt(p.berth, second.berth)] as const;
        const tc = [readAt(q.cadvisor, first.cadvisor), readAt(p.cadvisor, second.cadvisor)] as const;
        const rb = ((p.berth.value - q.berth.value) * 1000) / (tb[1] - tb[0]);
        const rc = ((p.cadvisor.value - q.cadvisor.value) * 1000) / (tc[1] - tc[0]);
        // Rates over ~6 s: the value's slack spread over the window, plus what the counter can move in
        // the time by which the two windows' ends differ (cAdvisor's reads are up to a housekeeping old).
        const shift = Math.abs(tb[0] - tc[0]) + Math.abs(tb[1] - tc[1]);
        const window = Math.min(tb[1] - tb[0], tc[1] - tc[0]);
        const slack = (rule.abs * 1000 + Math.max(rb, rc) * shift) / window + rule.rel * Math.max(rb, rc);
        if (Math.abs(rb - rc) > slack) {
          failures.push(`${family} {${p.key}}: rate berth ${rb.toFixed(4)}/s, cAdvisor ${rc.toFixed(4)}/s`);
        }
        // The value cAdvisor read at tc[1] against berth's reads around that moment: a counter only
        // grows, so it lies between a berth read that ended before and one that started after.
        const around = bracket(family, p.berth, tc[1]);
        const slackV = allowed(rule, p.berth.value, p.cadvisor.value);
        if (around) {
          bracketed++;
          if (
            p.cadvisor.value < around.below.value - slackV ||
            p.cadvisor.value > around.above.value + slackV
          ) {
            failures.push(
              `${family} {${p.key}}: cAdvisor ${p.cadvisor.value} at ${tc[1]}, outside berth's ` +
                `${around.below.value} (read by ${around.below.at}) .. ${around.above.value} (read from ${around.above.at})`,
            );
          }
          continue;
        }
        // cAdvisor's read before the trail began (a late housekeeping): allow the window's rate for the gap.
        const skew = (Math.max(rb, rc) * Math.abs(tb[1] - tc[1])) / 1000;
        const d = Math.abs(p.berth.value - p.cadvisor.value);
        if (d > slackV + skew) {
          failures.push(
            `${family} {${p.key}}: berth ${p.berth.value} at ${tb[1]}, cAdvisor ${p.cadvisor.value} at ${tc[1]}`,
          );
        }
      }
    }
    t.diagnostic(
      `${compared} counter series; ${bracketed} values between berth reads, ${trail.length} in the trail`,
    );
    assert.deepEqual(failures, []);
    assert.ok(compared >= 25, `only ${compared} counter series compared`);
    // The loop really ran, under its quota (less than 0.5 cores when the machine is busy).
    const cpu = boxes.find((b) => b.name === 'cpu');
    const usage = (x: Scrape) =>
      x.samples.find((s) => s.name === 'container_cpu_usage_seconds_total' && s.labels.id === cpu?.cgroup)
        ?.value ?? 0;
    const rate =
      (usage(second.berth) - usage(first.berth)) / ((second.berth.startMs - first.berth.startMs) / 1000);
    assert.ok(rate > 0.05 && rate < 0.55, `cpu container ran at ${rate} cores`);
  });

  test('the writable layer: usage is du of the upper dir, on the device cAdvisor names', () => {
    for (const box of boxes) {
      const s = second.berth.samples.find(
        (x) => x.name === 'container_fs_usage_bytes' && x.labels.id === box.cgroup,
      );
      assert.ok(s, `${box.name}: no container_fs_usage_bytes`);
      const du = Number(execFileSync('du', ['-s', '-B1', box.upper], { encoding: 'utf8' }).split('\t')[0]);
      // Measured up to a minute ago, and the layer is settled: equal to du now.
      assert.equal(s.value, du, `${box.name}: berth ${s.value}, du ${du}`);
      const root = second.cadvisor.samples.find(
        (x) =>
          x.name === 'container_fs_limit_bytes' && x.labels.id === '/' && x.labels.device === s.labels.device,
      );
      assert.ok(root, `cAdvisor knows no filesystem ${s.labels.device}`);
    }
    const mem = second.berth.samples.find(
      (x) =>
        x.name === 'container_fs_usage_bytes' && x.labels.id === boxes.find((b) => b.name === 'mem')?.cgroup,
    );
    assert.ok((mem?.value ?? 0) >= 8_000_000, `mem's 8 MB file: ${mem?.value}`);
  });
});
