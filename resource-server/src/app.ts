import {
  createCors,
  createErrorHandler,
  createHttpLogger,
  createOpenApiRouter,
  notFound,
  systemClock,
  type Clock,
  type JwksKeyProvider,
  type Logger,
  type RevocationFeed,
} from '@tessera/shared';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { createAuth } from './auth/passport.js';
import type { ResourceServerConfig } from './config.js';
import { openApiDocument } from './openapi.js';
import { createHealthRouter } from './routes/health.js';
import { createMeRouter } from './routes/me.js';
import { createNotesRouter } from './routes/notes.js';

export interface AppDependencies {
  config: Pick<ResourceServerConfig, 'issuer' | 'audience'> &
    Partial<Pick<ResourceServerConfig, 'clockToleranceSeconds' | 'corsOrigins'>>;
  logger: Logger;
  keys: JwksKeyProvider;
  /** Revoked tokens to refuse; without it only signature and claims are checked. */
  revocations?: RevocationFeed;
  clock?: Clock;
}

/** Builds the resource server's Express app: no environment, no listening (see main.ts). */
export function createApp({
  config,
  logger,
  keys,
  revocations,
  clock = systemClock,
}: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are per-caller and `no-store`: Express's automatic ETag would only hash every body.
  app.set('etag', false);
  app.use(helmet());
  app.use(createHttpLogger(logger));
  app.use(createCors(config.corsOrigins ?? [], ['GET', 'POST']));

  const { requireToken } = createAuth({
    keys,
    issuer: config.issuer,
    audience: config.audience,
    clock,
    clockToleranceSeconds: config.clockToleranceSeconds,
    ...(revocations === undefined ? {} : { revocations }),
  });
  app.use(createHealthRouter({ keys, ...(revocations === undefined ? {} : { revocations }) }));
  app.use(createMeRouter({ requireToken }));
  app.use(createNotesRouter({ requireToken, clock }));
  app.use(createOpenApiRouter(openApiDocument));

  app.use(notFound);
  app.use(createErrorHandler({ logger, realm: 'tessera' }));
  return app;
}
