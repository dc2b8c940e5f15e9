import type { ClientRecord, GrantType } from '../storage/storage.js';

/** What a grant decides: whom the token is for and with which scope. */
export interface GrantResult {
  sub: string;
  scope: readonly string[];
  /** The refresh-token family the access token belongs to, if any (its `sid` claim). */
  sid?: string;
  /** A refresh token to return with the access token. */
  refreshToken?: string;
  /** An OpenID Connect ID token to return with it. */
  idToken?: string;
}

/**
 * One grant_type: the parameters it requires (checked at the edge before `handle`) and
 * what it does with them. The client is already authenticated and allowed this grant.
 */
export interface Grant {
  grantType: GrantType;
  parameters: readonly string[];
  handle(client: ClientRecord, params: ReadonlyMap<string, string>): Promise<GrantResult>;
}
