import {
  createProtectedResourceMetadataRouter,
  createServiceApp,
  protectedResourceMetadataUrl,
  systemClock,
  type Clock,
  type JwksKeyProvider,
  type Logger,
  type RevocationFeed,
} from '@tessera/shared';
import type { Express, RequestHandler } from 'express';
import { createAuth } from './auth/passport.js';
import type { ResourceServerConfig } from './config.js';
import { openApiDocument } from './openapi.js';
import { createResourceMetrics, type ResourceMetrics } from './metrics.js';
import { createHealthRouter } from './routes/health.js';
import { createMeRouter } from './routes/me.js';
import { createNotesRouter, notesScopes, type NotesLimits } from './routes/notes.js';

export interface AppDependencies {
  config: Pick<ResourceServerConfig, 'issuer' | 'audience'> &
    Partial<Pick<ResourceServerConfig, 'clockToleranceSeconds' | 'corsOrigins' | 'scopesSupported'>>;
  logger: Logger;
  keys: JwksKeyProvider;
  /** Revoked tokens to refuse; without it only signature and claims are checked. */
  revocations?: RevocationFeed;
  /** Given by main.ts, whose key provider and feed already count into it; else a fresh one. */
  metrics?: ResourceMetrics;
  clock?: Clock;
  /** How many notes the example store keeps (default: 100 per user, 10,000 in all). */
  notesLimits?: NotesLimits;
}

/** Builds the resource server's Express app: no environment, no listening (see main.ts). */
export function createApp({
  config,
  logger,
  keys,
  revocations,
  metrics = createResourceMetrics(),
  clock = systemClock,
  notesLimits,
}: AppDependencies): Express {
  metrics.watch(keys, revocations);
  const resourceMetadata = protectedResourceMetadataUrl(config.audience);
  /** Token checks that reached a verdict; the error handler counts the refusals by code. */
  const verdicts = new Set(['unauthorized', 'invalid_token', 'invalid_request', 'temporarily_unavailable']);
  const { requireToken: verify } = createAuth({
    keys,
    issuer: config.issuer,
    audience: config.audience,
    clock,
    clockToleranceSeconds: config.clockToleranceSeconds,
    ...(revocations === undefined ? {} : { revocations }),
  });
  const requireToken: RequestHandler = (req, res, next) => {
    void verify(req, res, (error?: unknown) => {
      if (error === undefined) metrics.verifications.inc({ result: 'valid' });
      next(error);
    });
  };
  // The skeleton every service shares (security headers, request log, CORS, OpenAPI, errors)
  // around this service's own routes.
  return createServiceApp({
    logger,
    metrics,
    corsOrigins: config.corsOrigins ?? [],
    openApi: openApiDocument,
    errors: {
      realm: 'tessera',
      ...(resourceMetadata === undefined ? {} : { resourceMetadata }),
      observe: (error) => {
        if (verdicts.has(error.code)) metrics.verifications.inc({ result: error.code });
      },
    },
    // The busiest routes first: every router a request passes costs it the route matching.
    routes: [
      createMeRouter({ requireToken }),
      createNotesRouter({
        requireToken,
        clock,
        ...(notesLimits === undefined ? {} : { limits: notesLimits }),
      }),
      createHealthRouter({ keys, ...(revocations === undefined ? {} : { revocations }) }),
      // RFC 9728: what this resource is (its identifier, the `aud` it accepts), who issues its
      // tokens and which scopes it understands; every Bearer challenge points at it (§5.1).
      createProtectedResourceMetadataRouter({
        resource: config.audience,
        authorizationServers: [config.issuer],
        scopesSupported: config.scopesSupported ?? notesScopes,
      }),
    ],
  });
}
