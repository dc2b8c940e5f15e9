import type { z } from 'zod';
import type { tokenResponse } from '../contract.js';
import type { ClientRecord, GrantType } from '../storage/storage.js';
import type { ActorClaim } from '../tokens/access-token.js';

/** What a grant decides: whom the token is for, for which resources and with which scope. */
export interface GrantResult {
  sub: string;
  scope: readonly string[];
  /** The resources the token is for: its `aud` (RFC 8707 §2). */
  audience: readonly string[];
  /** The refresh-token family the access token belongs to, if any (its `sid` claim). */
  sid?: string;
  /** A refresh token to return with the access token. */
  refreshToken?: string;
  /** An OpenID Connect ID token to return with it. */
  idToken?: string;
  /** An exchanged token's delegation chain (RFC 8693 §4.1). */
  act?: ActorClaim;
  /** The latest `exp` (epoch seconds) the access token may have. */
  notAfter?: number;
  /** RFC 8693 §2.2.1: the type of the issued token, said in the response of a token exchange. */
  issuedTokenType?: z.input<typeof tokenResponse>['issued_token_type'];
}

/** What every token request may carry besides its grant's own parameters. */
export interface TokenRequest {
  /** The `resource` parameters (RFC 8707 §2), which may be repeated; empty if none. */
  resources: readonly string[];
}

/**
 * One grant_type: its request's schema (from `contract.ts`, checked at the edge before `handle`)
 * and what it does with the parameters. The client is already authenticated and allowed this grant.
 */
export interface Grant {
  grantType: GrantType;
  request: z.ZodType;
  handle(
    client: ClientRecord,
    params: ReadonlyMap<string, string>,
    request: TokenRequest,
  ): Promise<GrantResult>;
}
