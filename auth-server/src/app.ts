import express, { type Express, type Request } from 'express';
import {
  apiSecurityHeaders,
  createCors,
  createErrorHandler,
  createHttpLogger,
  createOpenApiRouter,
  notFound,
  type AppError,
  type Clock,
  type Logger,
  type ServiceMetrics,
  systemClock,
} from '@tessera/shared';
import type { AuditTrail } from './audit.js';
import type { ClientAuthenticator } from './clients/client-auth.js';
import type { Grant } from './grants/index.js';
import type { KeyManager } from './keys/key-manager.js';
import type { EndpointRateLimits } from './limits/request-limiter.js';
import { openApiDocument } from './openapi.js';
import { createHealthRouter } from './routes/health.js';
import { createIntrospectRouter } from './routes/introspect.js';
import { createRevocationFeedRouter } from './routes/revocation-feed.js';
import { createRevokeRouter } from './routes/revoke.js';
import { createTokenRouter } from './routes/token.js';
import { createWellKnownRouter } from './routes/well-known.js';
import { createAuthorizeRouter } from './routes/authorize.js';
import { createEndSessionRouter } from './routes/end-session.js';
import { createUserinfoRouter, userinfoPath } from './routes/userinfo.js';
import type { AuthorizationCodeService } from './signin/codes.js';
import type { IdTokenIssuer } from './signin/id-token.js';
import type { BrowserSessions } from './signin/sessions.js';
import type { ConcurrencyLimit } from './limits/concurrency-limit.js';
import type { LoginThrottle } from './limits/login-throttle.js';
import type { UserService } from './users/users.js';
import { createTargetResolver } from './resources/resource-request.js';
import type { ClientStore, ResourceStore, Storage } from './storage/storage.js';
import type { AccessTokenIssuer } from './tokens/access-token.js';
import type { RefreshTokenService } from './tokens/refresh-tokens.js';
import type { RevocationService } from './tokens/revocations.js';

export interface AuthAppDeps {
  issuer: string;
  logger: Logger;
  storage: Storage;
  keys: KeyManager;
  /** Client authentication, shared by the token, revocation and introspection endpoints. */
  clients: ClientAuthenticator;
  grants: ReadonlyMap<string, Grant>;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenService;
  revocations: RevocationService;
  /** Recognises storage failures (database down → 503); from the storage implementation. */
  translateError?: (error: unknown) => AppError | undefined;
  audit: AuditTrail;
  metrics: ServiceMetrics;
  /** Pings the shared Redis for readiness, when REDIS_URL is set. */
  pingRedis?: () => Promise<unknown>;
  /** Sees every error answer (token-endpoint error counts). */
  observeError?: (error: AppError, req: Request) => void;
  /** Each store-reaching OAuth endpoint's own budgets (per IP, per client). */
  rateLimits: Readonly<Record<'token' | 'revoke' | 'introspect' | 'signIn' | 'userinfo', EndpointRateLimits>>;
  /** Browser sign-in: the authorization endpoint and its pages, userinfo, logout. */
  signIn: {
    clientStore: ClientStore;
    resourceStore: Pick<ResourceStore, 'find'>;
    users: UserService;
    sessions: BrowserSessions;
    codes: AuthorizationCodeService;
    idTokens: IdTokenIssuer;
    throttle: LoginThrottle;
    passwordChecks: ConcurrencyLimit;
  };
  /** Origins allowed cross-origin; empty: CORS off. */
  corsOrigins: readonly string[];
  /**
   * Which reverse proxies' X-Forwarded-For gives the client IP: a hop count (0: none) or a list
   * of proxy addresses, CIDR ranges and range names (Express's `trust proxy`).
   */
  trustProxy: number | readonly string[];
  /** For the readiness check's pacing; the system clock by default. */
  clock?: Clock;
}

/** The auth server's HTTP app: middleware order, routers, error handler. No env, no listen. */
export function createApp(deps: AuthAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Only then does req.ip (the per-IP rate-limit key) come from X-Forwarded-For; else it could be forged.
  app.set('trust proxy', deps.trustProxy);
  app.use(apiSecurityHeaders());
  app.use(createHttpLogger(deps.logger, { observe: deps.metrics.observeRequest }));
  app.use(createCors(deps.corsOrigins, ['GET', 'POST']));
  // The busiest routes first: every router a request passes costs it the route matching.
  app.use(
    createTokenRouter({
      ...deps,
      rateLimits: deps.rateLimits.token,
      userinfoAudience: `${deps.issuer}${userinfoPath}`,
    }),
  );
  app.use(createWellKnownRouter(deps));
  app.use(createRevocationFeedRouter(deps));
  app.use(createRevokeRouter({ ...deps, rateLimits: deps.rateLimits.revoke }));
  app.use(
    createIntrospectRouter({
      ...deps,
      resources: deps.storage.resources,
      rateLimits: deps.rateLimits.introspect,
    }),
  );
  app.use(
    createAuthorizeRouter({
      ...deps.signIn,
      issuer: deps.issuer,
      clients: deps.signIn.clientStore,
      targets: createTargetResolver(deps.signIn.resourceStore),
      storage: deps.storage,
      signInLimiter: deps.rateLimits.signIn.perIp,
      audit: deps.audit,
      clock: deps.clock ?? systemClock,
      logger: deps.logger,
      translateError: deps.translateError,
    }),
  );
  app.use(createUserinfoRouter({ ...deps, limiter: deps.rateLimits.userinfo.perIp }));
  app.use(
    createEndSessionRouter({
      ...deps.signIn,
      ...deps,
      clients: deps.signIn.clientStore,
      limiter: deps.rateLimits.signIn.perIp,
    }),
  );
  app.use(createHealthRouter(deps));
  app.use(createOpenApiRouter(openApiDocument));
  app.use(notFound);
  app.use(
    createErrorHandler({
      logger: deps.logger,
      realm: 'tessera',
      translate: deps.translateError,
      observe: deps.observeError,
    }),
  );
  return app;
}
