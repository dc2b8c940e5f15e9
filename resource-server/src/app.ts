import {
  createErrorHandler,
  createHttpLogger,
  notFound,
  systemClock,
  type Clock,
  type JwksKeyProvider,
  type Logger,
} from '@tessera/shared';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { createAuth } from './auth/passport.js';
import type { ResourceServerConfig } from './config.js';
import { createHealthRouter } from './routes/health.js';
import { createMeRouter } from './routes/me.js';
import { createNotesRouter } from './routes/notes.js';

export interface AppDependencies {
  config: Pick<ResourceServerConfig, 'issuer' | 'audience'>;
  logger: Logger;
  keys: JwksKeyProvider;
  clock?: Clock;
}

/** Builds the resource server's Express app: no environment, no listening (see main.ts). */
export function createApp({ config, logger, keys, clock = systemClock }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are per-caller and `no-store`: Express's automatic ETag would only hash every body.
  app.set('etag', false);
  app.use(helmet());
  app.use(createHttpLogger(logger));

  const { requireToken } = createAuth({ keys, issuer: config.issuer, audience: config.audience, clock });
  app.use(createHealthRouter({ keys }));
  app.use(createMeRouter({ requireToken }));
  app.use(createNotesRouter({ requireToken, clock }));

  app.use(notFound);
  app.use(createErrorHandler({ logger, realm: 'tessera' }));
  return app;
}
