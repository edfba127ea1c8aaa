export async function runAgent(_opts: Record<string, string | undefined>): Promise<void> {
  throw new Error('not yet');
}
