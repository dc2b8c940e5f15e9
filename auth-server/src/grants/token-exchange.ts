import { AppError } from '@tessera/shared';
import { tokenExchangeRequest } from '../contract.js';
import { tokenExchangeGrantType, type ResourceStore } from '../storage/storage.js';
import type { AccessTokenIssuer, ActorClaim } from '../tokens/access-token.js';
import type { RevocationService } from '../tokens/revocations.js';
import { intersect, parseScope } from '../tokens/scope.js';
import type { Grant } from './grant.js';
import type { TargetResolver } from '../resources/resource-request.js';
import { resolveScope } from './scope-request.js';

/** RFC 8693 §3: the one token type this server takes as a subject and issues. */
export const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';

/** The audiences of a verified token, as a list. */
function audiencesOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((item): item is string => typeof item === 'string') : [];
}

/** A well-formed `act` claim (RFC 8693 §4.1), or undefined; and how many actors it names. */
function readActor(value: unknown, depth = 1): { act: ActorClaim; depth: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  if (typeof sub !== 'string' || sub === '') return undefined;
  if (act === undefined) return { act: { sub }, depth };
  const inner = readActor(act, depth + 1);
  return inner === undefined ? undefined : { act: { sub, act: inner.act }, depth: inner.depth };
}

/**
 * Token exchange (RFC 8693) for delegation: a service (the authenticated client, the actor)
 * presents a user's access token it received and gets one for another service it calls on the
 * user's behalf. Policy:
 * - the subject token must be one of ours, valid now and not revoked, and for a resource this
 *   client is the server of (a service exchanges tokens it received, not tokens it took from
 *   elsewhere); otherwise `invalid_request`, as RFC 8693 §2.2.2 requires for a subject token
 *   that is invalid or unacceptable by policy (not `invalid_grant`);
 * - the target (`resource`, or `audience` naming a resource identifier) must be allowed to the
 *   client (`invalid_target` otherwise, as for every grant);
 * - the scope is at most the subject token's, and what the target understands (`invalid_scope`);
 * - the new token keeps the subject's `sub` (and `sid`, so revoking the user's session reaches it),
 *   has the actor as `client_id`, records the chain in `act` (nested when the subject token was
 *   itself exchanged; at most `maxDepth` actors), never outlives the subject token and comes
 *   with no refresh token.
 */
export function createTokenExchangeGrant(deps: {
  accessTokens: AccessTokenIssuer;
  revocations: Pick<RevocationService, 'isRevoked'>;
  resources: Pick<ResourceStore, 'listServedBy'>;
  targets: TargetResolver;
  maxDepth: number;
}): Grant {
  // RFC 8693 §2.2.2: an invalid or unacceptable subject token is `invalid_request` (MUST).
  const refuse = (description: string) => new AppError('invalid_request', description);
  return {
    grantType: tokenExchangeGrantType,
    request: tokenExchangeRequest,
    async handle(client, params, request) {
      if (params.get('subject_token_type') !== accessTokenType)
        throw new AppError('invalid_request', `subject_token_type must be ${accessTokenType}`);
      const requested = params.get('requested_token_type');
      if (requested !== undefined && requested !== accessTokenType)
        throw new AppError('invalid_request', `requested_token_type must be ${accessTokenType}`);
      // The authenticated client is the actor; a separate actor token is not taken.
      if (params.has('actor_token') || params.has('actor_token_type'))
        throw new AppError(
          'invalid_request',
          'actor_token is not supported: the authenticated client is the actor',
        );

      const claims = await deps.accessTokens.verify(params.get('subject_token') ?? '');
      if (claims === undefined) throw refuse('subject token is invalid or expired');
      if (await deps.revocations.isRevoked(claims)) throw refuse('subject token is revoked');
      const served = new Set((await deps.resources.listServedBy(client.clientId)).map((r) => r.uri));
      if (!audiencesOf(claims.aud).some((aud) => served.has(aud)))
        throw refuse('the subject token is not for a resource this client serves');

      const previous = claims.act === undefined ? undefined : readActor(claims.act);
      if (claims.act !== undefined && previous === undefined)
        throw refuse('subject token has a malformed act');
      const depth = (previous?.depth ?? 0) + 1;
      if (depth > deps.maxDepth)
        throw refuse(`delegation chain too long: at most ${deps.maxDepth} actors (TOKEN_EXCHANGE_MAX_DEPTH)`);

      // RFC 8693 §2.1: `audience` names the target too (here, by its resource identifier), checked
      // as `resource` is; ignoring it would issue a token for a target the client did not ask for.
      const audience = params.get('audience');
      const named = audience === undefined ? request.resources : [...request.resources, audience];
      const targets = await deps.targets.resolve(client, named);
      const subjectScope = [...(parseScope(typeof claims.scope === 'string' ? claims.scope : '') ?? [])];
      const scope = resolveScope(params.get('scope'), intersect(subjectScope, targets.scopes));
      return {
        sub: claims.sub!,
        scope,
        audience: targets.uris,
        ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
        act: previous === undefined ? { sub: client.clientId } : { sub: client.clientId, act: previous.act },
        notAfter: claims.exp!,
        issuedTokenType: accessTokenType,
      };
    },
  };
}
