/**
 * Splits a command string into words as go-shellwords does for compose-go
 * (`command: echo "a b"` → `["echo", "a b"]`): quotes group, backslash
 * escapes outside single quotes, no variable or glob expansion.
 * Undefined when a quote is left open.
 */
export function splitShellWords(s: string): string[] | undefined {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (
      c === '\\' &&
      i + 1 < s.length &&
      (quote === undefined || '"\\$`\n'.includes(s[i + 1] ?? ''))
    ) {
      cur += s[++i];
      inWord = true;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote !== undefined) return undefined;
  if (inWord) words.push(cur);
  return words;
}
