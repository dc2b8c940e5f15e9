import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, type Clock } from '@tessera/shared';
import {
  StorageConflictError,
  grantTypes,
  type ClientRecord,
  type ClientStore,
  type GrantType,
} from '../storage/storage.js';
import { parseScopeList } from '../tokens/scope.js';
import { UserInputError } from '../users/users.js';

const clientIdPattern = /^[A-Za-z0-9._~-]{1,64}$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Client secrets are 256 random bits, so a fast digest is enough (no dictionary to
 * attack); SHA-256 digests are compared in constant time.
 */
function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Compared against when the client is unknown, so timing does not reveal which client ids exist. */
const dummyDigest = digest(randomBytes(32).toString('base64url'));

/** How the client presented itself at an endpoint (RFC 6749 §2.3, RFC 8414 method names). */
export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'none'; clientId: string };

export interface ClientService {
  create(input: {
    clientId: string;
    grants: string;
    scopes: string;
    isPublic: boolean;
  }): Promise<{ client: ClientRecord; secret: string | undefined }>;
  /** The authenticated client, or `invalid_client`. */
  authenticate(credentials: ClientCredentials): Promise<ClientRecord>;
  /** Deletes a client; its refresh tokens go with it and its access tokens are revoked. */
  delete(clientId: string): Promise<void>;
}

function parseGrants(text: string): GrantType[] {
  const grants = text.split(/[\s,]+/).filter((grant) => grant !== '');
  const unknown = grants.filter((grant) => !grantTypes.includes(grant as GrantType));
  if (grants.length === 0 || unknown.length > 0)
    throw new UserInputError(`grants must be a comma-separated list of ${grantTypes.join(', ')}`);
  return [...new Set(grants as GrantType[])];
}

/**
 * RFC 9700 §2.4: the password grant must not be used, and a public client cannot keep a
 * secret to protect it; production mode refuses such registrations.
 */
export function isUnsafeInProduction(client: Pick<ClientRecord, 'isPublic' | 'grants'>): boolean {
  return client.isPublic && client.grants.includes('password');
}

export function createClientService(deps: {
  clients: ClientStore;
  clock: Clock;
  /** Refuse registrations that production mode forbids. */
  production: boolean;
  deleteClient(clientId: string): Promise<boolean>;
}): ClientService {
  const { clients, clock } = deps;
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
      if (deps.production && isUnsafeInProduction({ isPublic: input.isPublic, grants }))
        throw new UserInputError(
          'production mode refuses the password grant for a public client (RFC 9700 §2.4)',
        );
      const secret = input.isPublic ? undefined : randomBytes(32).toString('base64url');
      const client: ClientRecord = {
        clientId: input.clientId,
        secretDigest: secret === undefined ? null : digest(secret).toString('hex'),
        isPublic: input.isPublic,
        grants,
        scopes: [...scopes],
        createdAt: clock.now(),
      };
      await clients.insert(client).catch((error: unknown) => {
        if (error instanceof StorageConflictError)
          throw new UserInputError(`client "${input.clientId}" already exists`);
        throw error;
      });
      return { client, secret };
    },

    async authenticate(credentials) {
      const failed = () => new AppError('invalid_client', 'client authentication failed');
      const client = clientIdPattern.test(credentials.clientId)
        ? await clients.find(credentials.clientId)
        : undefined;
      if (credentials.method === 'none') {
        // A public client identifies itself only; a confidential one must prove it (RFC 6749 §2.1).
        if (client === undefined || !client.isPublic) throw failed();
        return client;
      }
      const stored = client?.secretDigest == null ? dummyDigest : Buffer.from(client.secretDigest, 'hex');
      const matches = timingSafeEqual(digest(credentials.secret), stored);
      if (client === undefined || client.isPublic || !matches) throw failed();
      return client;
    },

    async delete(clientId) {
      if (!(await deps.deleteClient(clientId))) throw new UserInputError(`no client "${clientId}"`);
    },
  };
}
