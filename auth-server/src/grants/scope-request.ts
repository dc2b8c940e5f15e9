import { AppError } from '@tessera/shared';
import { parseScope } from '../tokens/scope.js';

/**
 * RFC 6749 §3.3: a requested scope must lie within what may be granted; no `scope`
 * parameter means everything that may be granted.
 */
export function resolveScope(requested: string | undefined, grantable: readonly string[]): string[] {
  if (requested === undefined) return [...grantable];
  const scopes = parseScope(requested);
  if (scopes === undefined) throw new AppError('invalid_scope', 'malformed scope');
  const outside = [...scopes].filter((scope) => !grantable.includes(scope));
  if (outside.length > 0) throw new AppError('invalid_scope', `scope not allowed: ${outside.join(' ')}`);
  return [...scopes];
}
