/** RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const scopePattern = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

/** Parses a scope string into a set; `undefined` if malformed. The empty string is the empty set. */
export function parseScope(text: string): ReadonlySet<string> | undefined {
  if (text === '') return new Set();
  return scopePattern.test(text) ? new Set(text.split(' ')) : undefined;
}

/** A scope list typed by an operator: any whitespace separates; each token must be well-formed. */
export function parseScopeList(text: string): ReadonlySet<string> | undefined {
  return parseScope(text.trim().split(/\s+/).join(' '));
}

export function formatScope(scopes: Iterable<string>): string {
  return [...scopes].join(' ');
}

export function intersect(a: Iterable<string>, b: Iterable<string>): string[] {
  const other = new Set(b);
  return [...a].filter((item) => other.has(item));
}
