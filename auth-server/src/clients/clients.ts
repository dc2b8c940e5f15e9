import { randomBytes } from 'node:crypto';
import type { Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import {
  StorageConflictError,
  grantTypes,
  tokenExchangeGrantType,
  type ClientJwk,
  type ClientRecord,
  type ClientStore,
  type GrantType,
} from '../storage/storage.js';
import { parseScopeList } from '../tokens/scope.js';
import { UserInputError } from '../errors.js';
import { clientIdPattern, digestSecret } from './client-auth.js';
import { toClientJwks } from './client-keys.js';
import { parseRedirectUris } from './redirect-uris.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ClientService {
  create(input: {
    clientId: string;
    grants: string;
    scopes: string;
    isPublic: boolean;
    /** The resources it may ask tokens for: identifiers of registered resources, comma-separated. */
    resources?: string;
    /**
     * A JWK Set (parsed JSON) of public keys: the client authenticates with private_key_jwt
     * (RFC 7523 §2.2) instead of a secret.
     */
    jwks?: unknown;
    /** Comma- or space-separated redirect URIs (required for the authorization_code grant). */
    redirectUris?: string;
    postLogoutRedirectUris?: string;
    /** Our own app: no consent page. */
    firstParty?: boolean;
  }): Promise<{ client: ClientRecord; secret: string | undefined }>;
  /** Replaces the resources a client may ask tokens for (comma-separated identifiers); returns them. */
  setResources(clientId: string, resources: string): Promise<readonly string[]>;
  /** Replaces a private_key_jwt client's keys (client-side key rotation); returns them. */
  setKeys(clientId: string, jwks: unknown): Promise<readonly ClientJwk[]>;
  /** Deletes a client; its refresh tokens go with it and its access tokens are revoked. */
  delete(clientId: string): Promise<void>;
}

/** Short names the CLI accepts for grant types that are URNs. */
const grantAliases: Readonly<Record<string, GrantType>> = { token_exchange: tokenExchangeGrantType };

function parseGrants(text: string): GrantType[] {
  const grants = text
    .split(/[\s,]+/)
    .filter((grant) => grant !== '')
    .map((grant) => grantAliases[grant] ?? grant);
  const unknown = grants.filter((grant) => !grantTypes.includes(grant as GrantType));
  if (grants.length === 0 || unknown.length > 0)
    throw new UserInputError(
      `grants must be a comma-separated list of ${grantTypes.join(', ')} (token_exchange for the last)`,
    );
  return [...new Set(grants as GrantType[])];
}

/**
 * RFC 9700 §2.4: the password grant must not be used, and a public client cannot keep a
 * secret to protect it; production mode refuses such registrations.
 */
export function isUnsafeInProduction(client: Pick<ClientRecord, 'isPublic' | 'grants'>): boolean {
  return client.isPublic && client.grants.includes('password');
}

/** A comma- (or space-) separated list of resource identifiers, as the CLI takes it. */
function splitResources(text: string): string[] {
  return text.split(/[\s,]+/).filter((uri) => uri !== '');
}

export function createClientService(deps: {
  clients: ClientStore;
  /** Checks that resource identifiers are registered (see ResourceService.requireRegistered). */
  requireResources(uris: readonly string[]): Promise<string[]>;
  clock: Clock;
  /** Refuse registrations that production mode forbids. */
  production: boolean;
  deleteClient(clientId: string): Promise<boolean>;
  audit: AuditTrail;
}): ClientService {
  const { clients, clock, audit } = deps;
  return {
    async create(input) {
      if (!clientIdPattern.test(input.clientId))
        throw new UserInputError('client id must be 1-64 characters of A-Z a-z 0-9 . _ ~ -');
      // client_credentials tokens carry the client id as `sub`; a UUID-shaped id could pass
      // for a user's (RFC 9700 §4.15), so those are refused.
      if (uuidPattern.test(input.clientId))
        throw new UserInputError('client id must not look like a user id (UUID)');
      const grants = parseGrants(input.grants);
      const scopes = parseScopeList(input.scopes);
      if (scopes === undefined) throw new UserInputError('scopes must be space-separated scope tokens');
      if (input.isPublic && grants.includes('client_credentials'))
        throw new UserInputError('a public client cannot use client_credentials (RFC 6749 §4.4)');
      if (input.isPublic && grants.includes(tokenExchangeGrantType))
        throw new UserInputError(
          'a public client cannot exchange tokens: the actor must authenticate (RFC 8693)',
        );
      if (deps.production && isUnsafeInProduction({ isPublic: input.isPublic, grants }))
        throw new UserInputError(
          'production mode refuses the password grant for a public client (RFC 9700 §2.4)',
        );
      if (input.isPublic && input.jwks !== undefined)
        throw new UserInputError('a public client has no credentials: no keys either');
      const jwks = input.jwks === undefined ? null : toClientJwks(input.jwks);
      const redirectUris = parseRedirectUris(input.redirectUris ?? '', '--redirect-uris');
      const postLogoutRedirectUris = parseRedirectUris(
        input.postLogoutRedirectUris ?? '',
        '--post-logout-redirect-uris',
      );
      if (grants.includes('authorization_code') && redirectUris.length === 0)
        throw new UserInputError('the authorization_code grant needs --redirect-uris');
      if (
        !grants.includes('authorization_code') &&
        (redirectUris.length > 0 || postLogoutRedirectUris.length > 0)
      )
        throw new UserInputError('redirect URIs go with the authorization_code grant');
      const resources = await deps.requireResources(splitResources(input.resources ?? ''));
      const secret = input.isPublic || jwks !== null ? undefined : randomBytes(32).toString('base64url');
      const client: ClientRecord = {
        clientId: input.clientId,
        secretDigest: secret === undefined ? null : digestSecret(secret).toString('hex'),
        jwks,
        isPublic: input.isPublic,
        grants,
        scopes: [...scopes],
        resources,
        createdAt: clock.now(),
        redirectUris,
        postLogoutRedirectUris,
        firstParty: input.firstParty === true,
      };
      await clients.insert(client).catch((error: unknown) => {
        if (error instanceof StorageConflictError)
          throw new UserInputError(`client "${input.clientId}" already exists`);
        throw error;
      });
      audit.record('client.created', {
        client_id: client.clientId,
        public: client.isPublic,
        auth_method: client.jwks === null ? undefined : 'private_key_jwt',
        grants: client.grants,
        scopes: client.scopes,
        resources: client.resources,
        ...(client.redirectUris.length === 0
          ? {}
          : { redirect_uris: client.redirectUris, first_party: client.firstParty }),
      });
      return { client, secret };
    },

    async setResources(clientId, text) {
      const resources = await deps.requireResources(splitResources(text));
      if (!(await clients.setResources(clientId, resources)))
        throw new UserInputError(`no client "${clientId}"`);
      audit.record('client.resources_replaced', { client_id: clientId, resources });
      return resources;
    },

    async setKeys(clientId, input) {
      const jwks = toClientJwks(input);
      if (!(await clients.setJwks(clientId, jwks))) {
        const client = await clients.find(clientId);
        throw new UserInputError(
          client === undefined
            ? `no client "${clientId}"`
            : `client "${clientId}" does not authenticate with private_key_jwt; it has no keys to replace`,
        );
      }
      audit.record('client.keys_replaced', { client_id: clientId, kids: jwks.map((key) => key.kid) });
      return jwks;
    },

    async delete(clientId) {
      if (!(await deps.deleteClient(clientId))) throw new UserInputError(`no client "${clientId}"`);
      audit.record('client.deleted', { client_id: clientId });
    },
  };
}
