import type { Clock, Logger } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import {
  StorageConflictError,
  type ClientStore,
  type ResourceRecord,
  type ResourceStore,
} from '../storage/storage.js';
import { parseScopeList } from '../tokens/scope.js';
import { UserInputError } from '../errors.js';

/** The longest resource identifier accepted (ours are short URLs; tokens carry it as `aud`). */
const maxResourceLength = 255;

/**
 * Why a text is not a resource identifier (RFC 8707 §2: an absolute URI, RFC 3986 §4.3, with no
 * fragment; a query is refused too, which §2 discourages), or undefined if it is one.
 */
export function resourceIdentifierProblem(text: string): string | undefined {
  if (text.length === 0 || text.length > maxResourceLength)
    return `a resource is 1-${maxResourceLength} characters`;
  // RFC 3986: no spaces or controls; the scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
  // Only visible ASCII (%x21-7E).
  if (!/^[\x21-\x7e]+$/.test(text) || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text))
    return 'a resource must be an absolute URI such as https://notes.example.com';
  if (text.includes('#')) return 'a resource must not have a fragment (RFC 8707 §2)';
  if (text.includes('?')) return 'a resource should not have a query (RFC 8707 §2)';
  try {
    new URL(text);
  } catch {
    return 'a resource must be an absolute URI such as https://notes.example.com';
  }
  return undefined;
}

export interface ResourceService {
  create(input: { uri: string; scopes: string; serverClientId?: string }): Promise<ResourceRecord>;
  /** Changes the scopes and/or the server client (`''` clears it). */
  update(uri: string, change: { scopes?: string; serverClientId?: string }): Promise<ResourceRecord>;
  list(): Promise<ResourceRecord[]>;
  delete(uri: string): Promise<void>;
  /** Checks that every identifier names a registered resource; returns them deduplicated. */
  requireRegistered(uris: readonly string[]): Promise<string[]>;
}

/**
 * Registered resources (RFC 8707): each is the identifier of a service that accepts tokens (the
 * `aud` of the tokens for it), the scope values it understands, and optionally the confidential
 * client the service itself authenticates as, which alone may introspect its tokens.
 */
export function createResourceService(deps: {
  resources: ResourceStore;
  clients: ClientStore;
  clock: Clock;
  audit: AuditTrail;
}): ResourceService {
  const { resources, clients, clock, audit } = deps;
  const recordChange = (event: 'resource.created' | 'resource.updated', resource: ResourceRecord) =>
    audit.record(event, {
      resource: resource.uri,
      scopes: resource.scopes,
      server_client_id: resource.serverClientId,
    });

  const parseScopes = (text: string): string[] => {
    const scopes = parseScopeList(text);
    if (scopes === undefined || scopes.size === 0)
      throw new UserInputError('scopes must be one or more space-separated scope tokens');
    return [...scopes];
  };

  const checkServerClient = async (clientId: string): Promise<void> => {
    const client = await clients.find(clientId);
    if (client === undefined) throw new UserInputError(`no client "${clientId}"`);
    if (client.isPublic)
      throw new UserInputError(`client "${clientId}" is public; a resource's server must be confidential`);
  };

  return {
    async create({ uri, scopes, serverClientId }) {
      const problem = resourceIdentifierProblem(uri);
      if (problem !== undefined) throw new UserInputError(problem);
      const record: ResourceRecord = {
        uri,
        scopes: parseScopes(scopes),
        serverClientId: serverClientId ?? null,
        createdAt: clock.now(),
      };
      if (serverClientId !== undefined) await checkServerClient(serverClientId);
      await resources.insert(record).catch((error: unknown) => {
        if (error instanceof StorageConflictError)
          throw new UserInputError(`resource "${uri}" already exists`);
        throw error;
      });
      recordChange('resource.created', record);
      return record;
    },

    async update(uri, change) {
      if (change.serverClientId !== undefined && change.serverClientId !== '')
        await checkServerClient(change.serverClientId);
      const updated = await resources.update(uri, {
        ...(change.scopes === undefined ? {} : { scopes: parseScopes(change.scopes) }),
        ...(change.serverClientId === undefined
          ? {}
          : { serverClientId: change.serverClientId === '' ? null : change.serverClientId }),
      });
      if (updated === undefined) throw new UserInputError(`no resource "${uri}"`);
      recordChange('resource.updated', updated);
      return updated;
    },

    list: () => resources.list(),

    async delete(uri) {
      if (!(await resources.delete(uri))) throw new UserInputError(`no resource "${uri}"`);
      audit.record('resource.deleted', { resource: uri });
    },

    async requireRegistered(uris) {
      const unique = [...new Set(uris)];
      for (const uri of unique)
        if ((await resources.find(uri)) === undefined) throw new UserInputError(`no resource "${uri}"`);
      return unique;
    },
  };
}

/**
 * The example notes API as `npm start` runs it: the resource server's default `AUDIENCE` and the
 * scopes its routes require.
 */
export const developmentResource = Object.freeze({
  uri: 'http://localhost:4001',
  scopes: Object.freeze(['notes:read', 'notes:write']),
});

/**
 * Development only (never in production): with no resource registered at all, registers the
 * example notes API, so `npm start` works with no setup, as the generated key-encryption secret
 * and the first signing key do. Once any resource exists (the operator's, or the one the upgrade
 * migration made from the old audience) this does nothing. Replicas starting together: one wins.
 */
export async function registerDevelopmentResource(
  resources: ResourceStore,
  clock: Clock,
  logger: Logger,
): Promise<void> {
  if ((await resources.list()).length > 0) return;
  try {
    await resources.insert({
      uri: developmentResource.uri,
      scopes: developmentResource.scopes,
      serverClientId: null,
      createdAt: clock.now(),
    });
  } catch (error) {
    if (error instanceof StorageConflictError) return;
    throw error;
  }
  logger.warn(
    { resource: developmentResource.uri, scopes: developmentResource.scopes },
    'development mode: no resource was registered, so the example notes API is (register yours with `resources create`)',
  );
}
