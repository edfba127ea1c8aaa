import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** busybox-static: a single static binary, so the rootfs needs no libc. */
const BUSYBOX = '/bin/busybox';

/**
 * Builds a minimal runnable rootfs in `dir` (created if missing): /bin/busybox with a
 * symlink per applet in /bin, root and nobody (65534) users, empty /tmp (1777), and the
 * mount points an OCI runtime expects (/proc, /sys, /dev).
 */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  const bin = join(dir, 'bin');
  const etc = join(dir, 'etc');
  await mkdir(bin, { recursive: true });
  await mkdir(etc, { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'root', 'var', 'home']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  // mkdir's mode is filtered by the umask, so set the sticky bit explicitly.
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);

  await copyFile(BUSYBOX, join(bin, 'busybox'));
  await chmod(join(bin, 'busybox'), 0o755);
  const { stdout } = await execFileAsync(BUSYBOX, ['--list'], { maxBuffer: 1 << 20 });
  for (const applet of stdout.split('\n')) {
    const name = applet.trim();
    if (name === '' || name === 'busybox' || name.includes('/')) continue;
    await symlink('busybox', join(bin, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }

  await writeFile(
    join(etc, 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(join(etc, 'group'), 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n');
  await writeFile(join(etc, 'hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await writeFile(join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
}
