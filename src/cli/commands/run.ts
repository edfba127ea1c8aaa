import type { LogLine, WaitResult } from '../../../runtime/runtime.js';
import type { ApiClient } from '../client.js';
import type { ParsedRunFlags } from '../run-flags.js';
import { buildCreateRequest } from '../run-request.js';

/**
 * `berth run`: one round trip (`POST /v1/containers/run` creates, starts,
 * streams the output, waits and, with --rm, removes), the container's stdout
 * and stderr on ours, its exit code as ours.
 */
export async function runContainer(
  client: ApiClient,
  image: string,
  args: string[],
  flags: ParsedRunFlags,
): Promise<void> {
  const f = { ...flags, noHealthcheck: flags.healthcheck === false };
  const body = buildCreateRequest(image, args, f);
  let exit: WaitResult | undefined;
  for await (const rec of client.stream<Record<string, unknown>>('POST', '/v1/containers/run', {
    query: { detach: f.detach, rm: f.rm },
    body,
  })) {
    if (rec.created && f.detach) process.stdout.write(`${(rec.created as { id: string }).id}\n`);
    else if (rec.line !== undefined) writeLine(rec as unknown as LogLine, false);
    else if (rec.exit) exit = rec.exit as WaitResult;
    else if (rec.error) throw new Error((rec.error as { message: string }).message);
  }
  if (exit) process.exitCode = exit.exitCode;
}

export function writeLine(l: LogLine, timestamps: boolean): void {
  const out = l.stream === 'stderr' ? process.stderr : process.stdout;
  // A piece of a line longer than the agent's join cap goes on in the next one: no newline between.
  const end = l.partial && !timestamps ? '' : '\n';
  out.write(timestamps ? `${l.time} ${l.line}${end}` : `${l.line}${end}`);
}
