import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../runtime/base/errors.js';
import type { ImageSummary, PullProgress } from '../../../runtime/runtime.js';
import type { ApiClient } from '../client.js';
import { forEachName } from '../each.js';
import { ago, humanSize, table } from '../format.js';

export function registerImageCommands(program: Command, client: () => ApiClient): void {
  program
    .command('images')
    .description('list images')
    .option('-q, --quiet', 'print ids only')
    .option('--format <fmt>', 'json for one JSON array')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const list = await client().json<ImageSummary[]>('GET', '/v1/images');
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(list)}\n`);
      if (o.quiet) return void process.stdout.write(list.map((i) => `${shortId(i.id)}\n`).join(''));
      const rows: string[][] = [];
      for (const img of list) {
        for (const ref of img.refs.length ? img.refs : ['<none>:<none>']) {
          const at = ref.lastIndexOf(':');
          const repo = at > ref.lastIndexOf('/') ? ref.slice(0, at) : ref;
          const tag = at > ref.lastIndexOf('/') ? ref.slice(at + 1) : '<none>';
          rows.push([repo, tag, shortId(img.id), ago(img.created), humanSize(img.size)]);
        }
      }
      process.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
    });

  program
    .command('rmi')
    .description('remove images (untag; the image goes when no tag is left)')
    .argument('<image...>')
    .option('-f, --force', 'remove even if a container uses it')
    .action(async (refs: string[], o: { force?: boolean }) => {
      await forEachName(refs, async (ref) => {
        const r = await client().json<{ removed: string[] }>('DELETE', '/v1/images', {
          query: { ref, force: o.force },
        });
        for (const x of r.removed) process.stdout.write(`Deleted: ${x}\n`);
      });
    });

  program
    .command('load')
    .description('load images from a docker-archive (docker save) or OCI-layout tarball')
    .requiredOption('-i, --input <file>', 'tarball to read')
    .action(async (o: { input: string }) => {
      const r = await client().json<{ images: ImageSummary[] }>('POST', '/v1/images/load', {
        body: createReadStream(o.input),
      });
      for (const img of r.images) process.stdout.write(`Loaded image: ${img.refs.join(', ') || img.id}\n`);
    });

  program
    .command('import')
    .description('create an image from a rootfs tarball (like docker import)')
    .argument('<file>', 'tarball of a root filesystem')
    .argument('<name:tag>', 'reference for the new image')
    .action(async (file: string, ref: string) => {
      const img = await client().json<ImageSummary>('POST', '/v1/images/import', {
        query: { ref },
        body: createReadStream(file),
      });
      process.stdout.write(`${img.id}\n`);
    });

  program
    .command('pull')
    .description(
      "pull an image from an OCI/Docker registry (plain HTTP only for registries in the agent's insecureRegistries)",
    )
    .argument('<ref>', 'e.g. registry.example:5000/app:v1')
    .option('--ca <file>', 'CA certificate to verify the registry')
    .option(
      '--username <user>',
      'registry user (password from BERTH_REGISTRY_PASSWORD); berth login keeps one',
    )
    .option('-q, --quiet', 'no progress output')
    .action(async (ref: string, o: { ca?: string; username?: string; quiet?: boolean }) => {
      const body = {
        ...(o.ca ? { caFile: o.ca } : {}),
        ...(o.username ? { username: o.username, password: process.env.BERTH_REGISTRY_PASSWORD ?? '' } : {}),
      };
      const bar = !o.quiet && process.stderr.isTTY ? new ProgressBar() : undefined;
      for await (const rec of client().stream<{
        progress?: PullProgress;
        image?: ImageSummary;
        error?: { message: string };
      }>('POST', '/v1/images/pull', { query: { ref }, body })) {
        if (rec.progress) bar?.update(rec.progress);
        if (rec.error) throw new Error(rec.error.message);
        if (rec.image) {
          bar?.done();
          process.stdout.write(`${rec.image.refs[0] ?? ref}: ${rec.image.id}\n`);
        }
      }
    });
}

/** `berth login` / `berth logout`: credentials the agent keeps per registry (root-only file). */
export function registerLoginCommands(program: Command, client: () => ApiClient): void {
  program
    .command('login')
    .description(
      'check credentials with a registry and keep them for its pulls (password from stdin or BERTH_REGISTRY_PASSWORD, never an argument)',
    )
    .argument('<registry>', 'host[:port], e.g. registry.example:5000')
    .requiredOption('-u, --username <user>', 'registry user')
    .option('--password-stdin', 'read the password from stdin')
    .option('--ca <file>', 'CA certificate (on the agent host) to verify the registry; kept with the login')
    .action(async (registry: string, o: { username: string; passwordStdin?: boolean; ca?: string }) => {
      const password = o.passwordStdin
        ? (await readStdin()).replace(/\r?\n$/, '')
        : process.env.BERTH_REGISTRY_PASSWORD;
      if (!password) {
        throw new InvalidArgumentError(
          'password: give it on stdin with --password-stdin, or in BERTH_REGISTRY_PASSWORD',
        );
      }
      await client().json('POST', '/v1/auth', {
        body: { registry, username: o.username, password, ...(o.ca ? { caFile: o.ca } : {}) },
      });
      process.stdout.write('Login Succeeded\n');
    });

  program
    .command('logout')
    .description("forget a registry's login")
    .argument('<registry>')
    .action(async (registry: string) => {
      const r = await client().json<{ registry: string }>(
        'DELETE',
        `/v1/auth/${encodeURIComponent(registry)}`,
      );
      process.stdout.write(`Removed login credentials for ${r.registry}\n`);
    });
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const c of process.stdin) s += String(c);
  return s;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** One line per layer, redrawn in place on a terminal. */
class ProgressBar {
  private readonly layers = new Map<string, PullProgress>();
  private drawn = 0;
  update(p: PullProgress): void {
    this.layers.set(p.layer, p);
    this.draw();
  }
  done(): void {
    this.draw();
  }
  private draw(): void {
    if (this.drawn) process.stderr.write(`\x1b[${this.drawn}A`);
    for (const p of this.layers.values()) {
      const frac = p.total
        ? Math.min(1, p.current / p.total)
        : p.status === 'done' || p.status === 'exists'
          ? 1
          : 0;
      const width = 30;
      const fill = Math.round(frac * width);
      process.stderr.write(
        `\x1b[2K${p.layer.replace(/^sha256:/, '').slice(0, 12)}: ${p.status.padEnd(11)} [${'='.repeat(fill)}${' '.repeat(width - fill)}] ${Math.round(frac * 100)}%\n`,
      );
    }
    this.drawn = this.layers.size;
  }
}
