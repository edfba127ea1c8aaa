import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used: fields 14 and 15 of /proc/<pid>/stat, in 10 ms ticks. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields are counted after its closing paren.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of every thread of `pid` from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds on CPU): fine enough for one scrape, where /proc/<pid>/stat
 * counts 10 ms ticks. Threads that ended are not counted, so window totals
 * use cpuSeconds.
 */
export function threadCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1e9;
}
