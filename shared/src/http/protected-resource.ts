import { Router } from 'express';
import { z } from 'zod';
import { methodNotAllowed } from '../errors.js';
import { sendBody } from './send.js';

/** RFC 9728 §3: the well-known suffix of protected-resource metadata. */
export const protectedResourceWellKnown = '/.well-known/oauth-protected-resource';

/**
 * Where a resource's RFC 9728 metadata lives (§3.1): the well-known suffix inserted between the
 * host and the path of its resource identifier, a terminating slash removed. Undefined when the
 * identifier is not an http(s) URL (a legacy audience such as `tessera-api` has no metadata URL).
 */
export function protectedResourceMetadataUrl(resource: string): string | undefined {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash !== '' || url.search !== '')
    return undefined;
  const path = url.pathname.replace(/\/$/, '');
  return `${url.origin}${protectedResourceWellKnown}${path}`;
}

export interface ProtectedResourceMetadata {
  /** The resource identifier: the `aud` this service accepts (RFC 8707 §2, RFC 9728 §2). */
  resource: string;
  /** Issuer identifiers of the authorization servers whose tokens it accepts. */
  authorizationServers: readonly string[];
  /** The scope values it understands. */
  scopesSupported: readonly string[];
}

/** The metadata's body as served (RFC 9728 §2). */
export const protectedResourceMetadataBody = z
  .object({
    resource: z.string().meta({ description: 'This service’s resource identifier (RFC 8707)' }),
    authorization_servers: z.array(z.url()),
    scopes_supported: z.array(z.string()),
    bearer_methods_supported: z.array(z.literal('header')),
  })
  .meta({ id: 'ProtectedResourceMetadata', description: 'RFC 9728 §2' });

/**
 * Serves RFC 9728 protected-resource metadata (§2, §3.2) at the path its resource identifier
 * implies (`/.well-known/oauth-protected-resource` for an identifier without a path). Bearer
 * tokens are taken in the Authorization header only (RFC 6750 §2.1), which
 * `bearer_methods_supported` says.
 */
export function createProtectedResourceMetadataRouter(metadata: ProtectedResourceMetadata): Router {
  const url = protectedResourceMetadataUrl(metadata.resource);
  const path = url === undefined ? protectedResourceWellKnown : new URL(url).pathname;
  const body = JSON.stringify({
    resource: metadata.resource,
    authorization_servers: [...metadata.authorizationServers],
    scopes_supported: [...metadata.scopesSupported],
    bearer_methods_supported: ['header'],
  } satisfies z.input<typeof protectedResourceMetadataBody>);
  const router = Router();
  router.get(path, (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    sendBody(res, 200, 'application/json; charset=utf-8', body);
  });
  router.all(path, methodNotAllowed(['GET', 'HEAD']));
  return router;
}
