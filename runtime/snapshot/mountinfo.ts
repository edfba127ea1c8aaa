import { readFile } from 'node:fs/promises';

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Mount points currently in this process's mount namespace. */
export async function mountPoints(mountinfoPath = '/proc/self/mountinfo'): Promise<Set<string>> {
  const text = await readFile(mountinfoPath, 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (mp !== undefined) out.add(unescapeMountPath(mp));
  }
  return out;
}
