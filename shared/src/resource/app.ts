import type { Express, RequestHandler } from 'express';
import { systemClock, type Clock } from '../clock.js';
import { createHealthRouter } from '../http/health.js';
import type { OpenApiDocument } from '../http/openapi.js';
import {
  createProtectedResourceMetadataRouter,
  protectedResourceMetadataUrl,
} from '../http/protected-resource.js';
import { createServiceApp } from '../http/service.js';
import type { JwksKeyProvider } from '../jwks/key-provider.js';
import type { Logger } from '../logger.js';
import type { RevocationFeed } from '../revocation/revocation-feed.js';
import type { ResourceConfig } from './config.js';
import type { ResourceMetrics } from './metrics.js';
import { verifierReadiness } from './readiness.js';
import { createTokenGuard } from './require-token.js';

/** What a service's routes are built with. */
export interface ResourceRouteContext {
  /** Verifies the bearer token (sets `req.user`); follow it with `requireScope(...)` where needed. */
  requireToken: RequestHandler;
  clock: Clock;
  logger: Logger;
}

export interface ResourceAppOptions {
  config: Pick<ResourceConfig, 'issuer' | 'audience' | 'scopesSupported'> &
    Partial<Pick<ResourceConfig, 'clockToleranceSeconds' | 'corsOrigins'>>;
  logger: Logger;
  keys: JwksKeyProvider;
  /** Revoked tokens to refuse; without it only signature and claims are checked. */
  revocations?: RevocationFeed | undefined;
  /** The service's metrics (`createResourceMetrics`), which the key provider and the feed count into too. */
  metrics: ResourceMetrics;
  clock?: Clock;
  /** Served at `GET /openapi.json`. */
  openApi: OpenApiDocument;
  /** The service's own routers, busiest first. */
  routes: (context: ResourceRouteContext) => readonly RequestHandler[];
}

/** Token checks that reached a verdict; the error handler counts the refusals by code. */
const verdicts = new Set(['unauthorized', 'invalid_token', 'invalid_request', 'temporarily_unavailable']);

/**
 * The HTTP app of a service whose routes take Tessera access tokens: the service skeleton
 * (`createServiceApp`) around the service's routes, health and readiness (a usable key set and
 * revocation list), its RFC 9728 metadata, and the verification metrics. No environment, no
 * listening (see `runResourceService`).
 */
export function createResourceApp({
  config,
  logger,
  keys,
  revocations,
  metrics,
  clock = systemClock,
  openApi,
  routes,
}: ResourceAppOptions): Express {
  metrics.watch(keys, revocations);
  const resourceMetadata = protectedResourceMetadataUrl(config.audience);
  const verify = createTokenGuard({
    keys,
    issuer: config.issuer,
    audience: config.audience,
    clock,
    clockToleranceSeconds: config.clockToleranceSeconds,
    revocations,
  });
  const requireToken: RequestHandler = (req, res, next) => {
    void verify(req, res, (error?: unknown) => {
      if (error === undefined) metrics.verifications.inc({ result: 'valid' });
      next(error);
    });
  };
  return createServiceApp({
    logger,
    metrics,
    corsOrigins: config.corsOrigins ?? [],
    openApi,
    errors: {
      realm: 'tessera',
      ...(resourceMetadata === undefined ? {} : { resourceMetadata }),
      observe: (error) => {
        if (verdicts.has(error.code)) metrics.verifications.inc({ result: error.code });
      },
    },
    // The busiest routes first: every router a request passes costs it the route matching.
    routes: [
      ...routes({ requireToken, clock, logger }),
      createHealthRouter(verifierReadiness({ keys, revocations })),
      // RFC 9728: what this resource is (its identifier, the `aud` it accepts), who issues its
      // tokens and which scopes it understands; every Bearer challenge points at it (§5.1).
      createProtectedResourceMetadataRouter({
        resource: config.audience,
        authorizationServers: [config.issuer],
        scopesSupported: config.scopesSupported,
      }),
    ],
  });
}
