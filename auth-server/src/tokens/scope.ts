/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-delimited. */
const scopeTokenPattern = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Parses a scope string into a set; `undefined` if any token is malformed. Empty → empty set. */
export function parseScope(text: string): ReadonlySet<string> | undefined {
  const tokens = text.split(' ').filter((token) => token !== '');
  if (!tokens.every((token) => scopeTokenPattern.test(token))) return undefined;
  return new Set(tokens);
}

export function formatScope(scopes: Iterable<string>): string {
  return [...scopes].join(' ');
}

export function intersect(a: Iterable<string>, b: Iterable<string>): string[] {
  const other = new Set(b);
  return [...a].filter((item) => other.has(item));
}
