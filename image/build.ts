/**
 * Builds the berth OCI image: `npm run build:image [-- --out DIR] [--tag TAG]`
 * (src/bin/berth-node --import tsx image/build.ts). Writes an OCI image
 * layout to DIR/oci (default dist/image/oci) and the same layout tarred to
 * DIR/berth-<version>-<arch>.oci.tar, which `berth load -i`, `podman load -i`
 * and `skopeo … oci-archive:` take. Deterministic: the same checkout, Node and
 * Debian packages give the same digest (README.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { berthCacheDir } from '../runtime/base/cache-dir.js';
import { APP, appLayer } from './app.js';
import { Tree } from './entries.js';
import { freshLayout, MEDIA, tarLayout, writeJsonBlob, writeLayer } from './layout.js';
import { addWithLibraries, baseLayer, debianPackages } from './rootfs.js';

const ROOT = resolve(import.meta.dirname, '..');
const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

function git(args: string[]): string {
  try {
    return execFileSync('git', ['-C', ROOT, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/** The Node.js berth runs on: $BERTH_NODE, the cached pinned one, as src/bin/find-node.sh picks it. */
function nodeBinary(): string {
  const cache = berthCacheDir();
  for (const p of [process.env.BERTH_NODE, `${cache}/node/current/bin/node`, process.execPath]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error('image: no Node.js found');
}

export interface BuildResult {
  layout: string;
  archive: string;
  ref: string;
  manifestDigest: string;
  compressedBytes: number;
  seconds: number;
}

export interface BuildOptions {
  /** Where the layout and the archive go (default dist/image). */
  out?: string;
  /** The tag (default package.json's version). */
  tag?: string;
  /** Every mtime and the created time, in seconds (default $SOURCE_DATE_EPOCH, else HEAD's commit time). */
  epoch?: number;
  /** The org.opencontainers.image.revision label (default HEAD's hash). */
  revision?: string;
  /** Build from dist/ even when a source is newer (tests, while others edit the sources). */
  allowStale?: boolean;
}

export async function buildImage(opts: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    license?: string;
  };
  const arch = ARCH[process.arch];
  if (arch === undefined) throw new Error(`image: no OCI architecture for ${process.arch}`);
  const out = resolve(opts.out ?? join(ROOT, 'dist', 'image'));
  const tag = opts.tag ?? pkg.version;
  const ref = `berth:${tag}`;
  const node = nodeBinary();
  const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  if (Number(/^v(\d+)/.exec(nodeVersion)?.[1]) < 24)
    throw new Error(`image: ${node} is ${nodeVersion}, berth needs 24`);
  // The commit's time, not now: rebuilding the same commit gives the same bytes.
  const epoch =
    opts.epoch ?? Number(process.env.SOURCE_DATE_EPOCH || git(['log', '-1', '--format=%ct']) || 0);
  const mtime = new Date(epoch * 1000);
  const revision = opts.revision ?? git(['rev-parse', 'HEAD']);

  const app = new Tree();
  appLayer(app, ROOT, opts.allowStale);
  const base = new Tree();
  const hostPaths = baseLayer(base, node);
  // Native addons (re2, xattr) load libraries too; they go into the base layer.
  for (const e of app.sorted())
    if (e.type === 'file' && e.path.endsWith('.node')) addWithLibraries(base, e.source, true);
  const packages = debianPackages(hostPaths);
  base.add({
    type: 'data',
    path: 'usr/share/berth-image/debian-packages',
    mode: 0o644,
    data: Buffer.from(packages),
  });

  const layout = join(out, 'oci');
  await mkdir(out, { recursive: true });
  await freshLayout(layout);
  const layers = [
    await writeLayer(layout, base.sorted(), mtime),
    await writeLayer(layout, app.sorted(), mtime),
  ];
  const created = mtime.toISOString().replace(/\.\d+Z$/, 'Z');
  const labels = {
    'org.opencontainers.image.title': 'berth',
    'org.opencontainers.image.description':
      'berth, a per-host container agent (Node.js, runc, crun, conmon, HAProxy)',
    'org.opencontainers.image.version': pkg.version,
    'org.opencontainers.image.revision': revision,
    'org.opencontainers.image.created': created,
    'org.opencontainers.image.licenses': pkg.license ?? '',
    'org.opencontainers.image.source': git(['config', '--get', 'remote.origin.url']),
  };
  const config = await writeJsonBlob(layout, MEDIA.config, {
    created,
    architecture: arch,
    os: 'linux',
    config: {
      Entrypoint: ['/usr/local/bin/berth'],
      Cmd: ['agent'],
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
      WorkingDir: '/',
      Labels: labels,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      {
        created,
        created_by: `berth image/build.ts: ${nodeVersion}, runc, crun, conmon, HAProxy and their libraries`,
      },
      { created, created_by: `berth image/build.ts: /${APP} (dist and production node_modules)` },
    ],
  });
  const manifest = await writeJsonBlob(layout, MEDIA.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    annotations: {
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.created': created,
    },
  });
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        ...manifest,
        platform: { architecture: arch, os: 'linux' },
        // ref.name is the tag (the OCI convention skopeo and podman read); the containerd
        // annotation carries the full name, which berth load prefers.
        annotations: {
          'io.containerd.image.name': `docker.io/library/${ref}`,
          'org.opencontainers.image.ref.name': tag,
        },
      },
    ],
  };
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
  const blobs = [...layers.map((l) => l.digest), config.digest, manifest.digest].map(
    (d) => `blobs/sha256/${d.slice('sha256:'.length)}`,
  );
  const archive = join(out, `berth-${tag}-${arch}.oci.tar`);
  await tarLayout(layout, ['oci-layout', 'index.json', ...blobs], archive, mtime);
  return {
    layout,
    archive,
    ref,
    manifestDigest: manifest.digest,
    compressedBytes: layers.reduce((n, l) => n + l.size, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('image/build.ts')) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      tag: { type: 'string' },
      'allow-stale': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run build:image -- [--out DIR] [--tag TAG]\n' +
        '  --out DIR  where the layout (DIR/oci) and the oci-archive tar go (default dist/image)\n' +
        "  --tag TAG  the image's tag (default package.json's version): berth:TAG\n" +
        '  --allow-stale  build from dist/ even when a source is newer than its last build\n',
    );
    process.exit(0);
  }
  try {
    const r = await buildImage({ out: values.out, tag: values.tag, allowStale: values['allow-stale'] });
    process.stdout.write(
      `${r.ref} ${r.manifestDigest}\n  layout   ${r.layout}\n  archive  ${r.archive}\n` +
        `  layers   ${(r.compressedBytes / 1048576).toFixed(1)} MiB compressed, built in ${r.seconds.toFixed(1)} s\n`,
    );
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
