import express, { type Express } from 'express';
import helmet from 'helmet';
import { createCors, createErrorHandler, createHttpLogger, notFound, type Logger } from '@tessera/shared';
import type { ClientService } from './clients/clients.js';
import type { Grant } from './grants/index.js';
import type { KeyManager } from './keys/key-manager.js';
import { createHealthRouter } from './routes/health.js';
import { createTokenRouter, type TokenRateLimits } from './routes/token.js';
import { createWellKnownRouter } from './routes/well-known.js';
import type { Storage } from './storage/storage.js';
import type { AccessTokenIssuer } from './tokens/access-token.js';

export interface AuthAppDeps {
  issuer: string;
  logger: Logger;
  storage: Storage;
  keys: KeyManager;
  clients: ClientService;
  grants: ReadonlyMap<string, Grant>;
  accessTokens: AccessTokenIssuer;
  rateLimits: TokenRateLimits;
  /** Origins allowed cross-origin; empty: CORS off. */
  corsOrigins: readonly string[];
  /** Reverse-proxy hops whose X-Forwarded-For is trusted for the client IP (0: none). */
  trustProxyHops: number;
}

/** The auth server's HTTP app: middleware order, routers, error handler. No env, no listen. */
export function createApp(deps: AuthAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // ETags are ours to set (the JWKS); Express's automatic ones would only cost hashing.
  app.set('etag', false);
  // Only then does req.ip (the per-IP rate-limit key) come from X-Forwarded-For; else it could be forged.
  app.set('trust proxy', deps.trustProxyHops);
  app.use(helmet());
  app.use(createHttpLogger(deps.logger));
  app.use(createCors(deps.corsOrigins, ['GET', 'POST']));
  app.use(createHealthRouter(deps));
  app.use(createWellKnownRouter(deps));
  app.use(createTokenRouter(deps));
  app.use(notFound);
  app.use(createErrorHandler({ logger: deps.logger, realm: 'tessera' }));
  return app;
}
