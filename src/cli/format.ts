/** Plain-text tables and durations for CLI output, like Docker's. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** How long ago `iso` was, in Docker's words (`2 minutes ago`); empty without a time. */
export function ago(iso: string | undefined, now = Date.now()): string {
  return iso ? `${since(iso, now)} ago` : '';
}

/** The time since `iso` as Docker's ps says it: `Less than a second`, `About a minute`, `3 hours`. */
export function since(iso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return plural(Math.floor(s), 'second');
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return plural(m, 'minute');
  const h = Math.floor(s / 3600 + 0.5);
  if (h === 1) return 'About an hour';
  if (h < 48) return plural(h, 'hour');
  if (h < 24 * 7 * 2) return plural(Math.floor(h / 24), 'day');
  if (h < 24 * 30 * 2) return plural(Math.floor(h / (24 * 7)), 'week');
  if (h < 24 * 365 * 2) return plural(Math.floor(h / (24 * 30)), 'month');
  return plural(Math.floor(s / 3600 / 24 / 365), 'year');
}

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(2) : v < 100 && i > 0 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

/** Prints what was removed, one line each, then how many `kind`s went. */
export function report(kind: string, lines: string[], count: number): void {
  for (const l of lines) process.stdout.write(`${l}\n`);
  process.stdout.write(`Removed ${plural(count, kind)}\n`);
}

/** `1 second`, `3 seconds`: a count and its noun. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
