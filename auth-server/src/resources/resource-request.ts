import { AppError } from '@tessera/shared';
import type { ClientRecord, ResourceRecord, ResourceStore } from '../storage/storage.js';

/** The resources a token is for, and the scope values any of them understands. */
export interface Targets {
  /** Their identifiers, the token's `aud` (in the order asked for). */
  uris: string[];
  /** The union of the scopes they understand: a token for them carries no others. */
  scopes: string[];
  records: ResourceRecord[];
}

/** At most this many `resource` parameters in one request. */
const maxResources = 10;

export interface TargetResolver {
  /**
   * The resources of a token request (RFC 8707 §2): those named by its `resource` parameters,
   * which must all be registered and allowed to the client (and, for a refresh, part of the
   * grant: `within`); none named means the client's one resource (or the grant's resources).
   * Anything else is `invalid_target`.
   */
  resolve(client: ClientRecord, requested: readonly string[], within?: readonly string[]): Promise<Targets>;
}

export function createTargetResolver(resources: Pick<ResourceStore, 'find'>): TargetResolver {
  const refuse = (description: string) => new AppError('invalid_target', description);
  return {
    async resolve(client, requested, within) {
      if (requested.length > maxResources) throw refuse(`at most ${maxResources} resource parameters`);
      const allowed = new Set(client.resources);
      let uris: string[];
      if (requested.length > 0) {
        uris = [...new Set(requested)];
        for (const uri of uris) {
          // Unknown and unallowed alike: the answer does not tell which resources exist.
          if (!allowed.has(uri)) throw refuse(`resource not allowed for this client: ${uri}`);
          if (within !== undefined && !within.includes(uri))
            throw refuse(`resource is not part of this grant: ${uri}`);
        }
      } else if (within !== undefined) {
        // RFC 8707 §2.2: a refresh without `resource` is for the grant's resources (still allowed).
        uris = within.filter((uri) => allowed.has(uri));
        if (uris.length === 0) throw refuse("this client may no longer ask for the grant's resources");
      } else if (client.resources.length === 1) {
        uris = [...client.resources];
      } else if (client.resources.length === 0) {
        throw refuse('this client may ask for no resource');
      } else {
        throw refuse('resource is required: this client may ask for several');
      }
      const records: ResourceRecord[] = [];
      for (const uri of uris) {
        const record = await resources.find(uri);
        if (record === undefined) throw refuse(`resource not allowed for this client: ${uri}`);
        records.push(record);
      }
      return { uris, scopes: [...new Set(records.flatMap((record) => record.scopes))], records };
    },
  };
}

/**
 * The targets of a token from a user's grant (an authorization code, a refresh-token family),
 * which may be for no resource at all (an OpenID Connect sign-in only): none then unless the
 * request names one (which is `invalid_target`, not part of the grant); otherwise as `resolve`.
 */
export function resolveGrantTargets(
  targets: TargetResolver,
  client: ClientRecord,
  requested: readonly string[],
  granted: readonly string[],
): Promise<Targets> {
  if (granted.length === 0 && requested.length === 0)
    return Promise.resolve({ uris: [], scopes: [], records: [] });
  return targets.resolve(client, requested, granted);
}

/** A token for no resource is only for the userinfo endpoint, so it needs `openid`. */
export function requireAudience(audience: readonly string[], scope: readonly string[]): void {
  if (audience.length === 0 && !scope.includes('openid'))
    throw new AppError('invalid_target', 'the token would be for no resource');
}
