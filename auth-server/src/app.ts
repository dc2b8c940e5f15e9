/**
 * The composition root: opens the store and wires the services (loadServices, also used by the
 * admin CLI), then the HTTP app (createAuthApp). main.ts reads the environment and serves it.
 */
import { mkdirSync } from 'node:fs';
import type { Express, Request } from 'express';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  createServiceApp,
  createServiceMetrics,
  systemClock,
  type AppError,
  type Clock,
  type Logger,
  type ServiceMetrics,
} from '@tessera/shared';
import { createAuditTrail, registerAuthMetrics, type AuditTrail } from './audit.js';
import { createRedisAssertionJtiStore } from './clients/assertion-jtis.js';
import { createClientAuthenticator, type ClientAuthenticator } from './clients/client-auth.js';
import { createCachedClientStore } from './clients/client-cache.js';
import { createClientService, type ClientService } from './clients/clients.js';
import type { AuthConfig } from './config.js';
import { createGrantRegistry, type Grant } from './grants/index.js';
import { createKeyEncryptionKey } from './keys/encryption.js';
import { loadKeyEncryptionSecret } from './keys/encryption-secret.js';
import { createKeyManager, type KeyManager } from './keys/key-manager.js';
import { createConcurrencyLimit, type ConcurrencyLimit } from './limits/concurrency-limit.js';
import { createLoginThrottle, type LoginThrottle } from './limits/login-throttle.js';
import { createRequestLimiter, type EndpointRateLimits } from './limits/request-limiter.js';
import { openApiDocument } from './openapi.js';
import { createCachedResourceStore } from './resources/resource-cache.js';
import { createTargetResolver } from './resources/resource-request.js';
import { createResourceService, type ResourceService } from './resources/resources.js';
import { createAuthorizeRouter } from './routes/authorize.js';
import { createEndSessionRouter } from './routes/end-session.js';
import { createHealthRouter } from './routes/health.js';
import { createIntrospectRouter } from './routes/introspect.js';
import { createRevocationFeedRouter } from './routes/revocation-feed.js';
import { createRevokeRouter } from './routes/revoke.js';
import { createTokenRouter } from './routes/token.js';
import { createUserinfoRouter, userinfoPath } from './routes/userinfo.js';
import { createWellKnownRouter } from './routes/well-known.js';
import { createAuthorizationCodeService, type AuthorizationCodeService } from './signin/codes.js';
import { createIdTokenIssuer, type IdTokenIssuer } from './signin/id-token.js';
import { createBrowserSessions, type BrowserSessions } from './signin/sessions.js';
import { openDatabase, toDatabaseUnavailable } from './storage/sql/database.js';
import { migrateToLatest } from './storage/sql/migrations.js';
import { createSqlStorage } from './storage/sql/sql-storage.js';
import type { ClientStore, ResourceStore, Storage } from './storage/storage.js';
import { createAccessTokenIssuer, type AccessTokenIssuer } from './tokens/access-token.js';
import { createRefreshTokenService, type RefreshTokenService } from './tokens/refresh-tokens.js';
import {
  createRevocationService,
  registerRevocationMetrics,
  type RevocationService,
} from './tokens/revocations.js';
import { createPasswordHasher, type PasswordHasher } from './users/passwords.js';
import { createUserService, type UserService } from './users/users.js';

/** What the HTTP app's routers are built from (createAuthApp wires it). */
interface AuthAppDeps {
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

export interface Services {
  storage: Storage;
  keys: KeyManager;
  users: UserService;
  clients: ClientService;
  resources: ResourceService;
  /** The resources as token requests read them: cached briefly, invalidated by `resources`' writes. */
  resourceStore: ResourceStore;
  /** The clients as client authentication reads them: cached briefly, invalidated by `clients`' writes. */
  clientStore: ClientStore;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenService;
  revocations: RevocationService;
  throttle: LoginThrottle;
  /** Browser sign-in: authorization codes, signed-in browsers, ID tokens. */
  codes: AuthorizationCodeService;
  sessions: BrowserSessions;
  idTokens: IdTokenIssuer;
  /** The audit log and its counters (registered in `registry`, served at /metrics on METRICS_PORT). */
  audit: AuditTrail;
  registry: Registry;
  clock: Clock;
}

/**
 * Start-up I/O shared by the server and the admin CLI: open and migrate the store, and
 * wire the domain services. Keys are not loaded here: the server loads them, the CLI only
 * when a command needs them. `hasher` defaults to Argon2id at OWASP's cost.
 */
export async function loadServices(
  config: AuthConfig,
  logger: Logger,
  clock: Clock = systemClock,
  hasher?: PasswordHasher,
): Promise<Services> {
  mkdirSync(config.dataDir, { recursive: true });
  const db = openDatabase(config.database, (error) =>
    logger.warn({ err: error.message }, 'database connection lost; it is replaced on the next query'),
  );
  const storage = createSqlStorage(db);
  try {
    await migrateToLatest(db, { legacyAudience: config.audience });
  } catch (error) {
    await storage.close();
    throw error;
  }
  const secret = loadKeyEncryptionSecret({
    configured: config.keyEncryptionSecret,
    dataDir: config.dataDir,
    logger,
  });
  const kek = createKeyEncryptionKey(secret);
  // Created here, served by createAuthApp: the audit trail's counters live in it.
  const registry = new Registry();
  const audit = createAuditTrail(logger, registry);
  const keys = createKeyManager({
    keys: storage.keys,
    kek,
    clock,
    audit,
    modulusLength: config.signingKeySize,
    durations: config.keyDurations,
  });
  const revocations = createRevocationService({
    storage,
    clock,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    keySetVersion: () => (keys.ready() ? keys.jwks().etag : undefined),
  });
  const cachedClients = createCachedClientStore(storage.clients, { clock });
  // Token requests look resources up here: no store round trip for a known one (like clients).
  const cachedResources = createCachedResourceStore(storage.resources, { clock });
  const resources = createResourceService({
    resources: cachedResources,
    clients: cachedClients,
    clock,
    audit,
  });
  return {
    resources,
    resourceStore: cachedResources,
    storage,
    clock,
    keys,
    revocations,
    audit,
    registry,
    clientStore: cachedClients,
    users: createUserService({
      users: storage.users,
      consents: storage.consents,
      hasher: hasher ?? (await createPasswordHasher()),
      clock,
      audit,
      revokeUser: (userId) => revocations.revokeUser(userId),
    }),
    // No store round trip per token request for a known client.
    clients: createClientService({
      clients: cachedClients,
      requireResources: (uris) => resources.requireRegistered(uris),
      clock,
      production: config.production,
      audit,
      deleteClient: async (clientId) => {
        const deleted = await revocations.deleteClient(clientId);
        cachedClients.forget(clientId);
        return deleted;
      },
    }),
    accessTokens: createAccessTokenIssuer({
      keys,
      clock,
      issuer: config.issuer,
      ttlSeconds: config.accessTokenTtlSeconds,
    }),
    refreshTokens: createRefreshTokenService({
      storage,
      revocations,
      clock,
      audit,
      secret,
      policy: {
        ttlSeconds: config.refreshTokenTtlSeconds,
        idleTtlSeconds: config.refreshTokenIdleTtlSeconds,
        reuseGraceSeconds: config.refreshTokenReuseGraceSeconds,
      },
    }),
    codes: createAuthorizationCodeService({ storage, revocations, clock, audit }),
    sessions: createBrowserSessions({
      storage,
      clock,
      issuer: config.issuer,
      policy: config.session,
      secret,
    }),
    idTokens: createIdTokenIssuer({ keys, clock, issuer: config.issuer }),
    throttle: createLoginThrottle({
      store: storage.loginThrottle,
      secret,
      clock,
      audit,
      policy: config.loginLock,
    }),
  };
}

/**
 * The HTTP app wired from configuration and loaded services (what main.ts serves and tests call):
 * the routers, the middleware order and the error handler. No env, no listen.
 * `redis` is the client for `config.redisUrl` (see openRedis); without it, rate limits are in-process.
 */
export function createAuthApp(
  config: AuthConfig,
  logger: Logger,
  services: Services,
  redis?: Redis,
): Express {
  const shared = redis === undefined ? undefined : { client: redis, keyPrefix: config.redisKeyPrefix };
  const { tokenErrors } = registerAuthMetrics(services.registry, services.storage.keys);
  // RATE_LIMIT_IP and RATE_LIMIT_CLIENT apply to each endpoint that reaches the store, apart.
  const endpointBudgets = (endpoint: string) => ({
    perIp: createRequestLimiter({ name: `${endpoint}-ip`, limit: config.rateLimits.perIp, redis: shared }),
    perClient: createRequestLimiter({
      name: `${endpoint}-client`,
      limit: config.rateLimits.perClient,
      redis: shared,
    }),
  });
  registerRevocationMetrics(services.registry, services.revocations);
  // One bound on password hashing for the password grant and the sign-in page together.
  const passwordChecks = createConcurrencyLimit(config.passwordHashing);
  const deps: AuthAppDeps = {
    issuer: config.issuer,
    logger,
    storage: services.storage,
    keys: services.keys,
    clients: createClientAuthenticator({
      clients: services.clientStore,
      clock: services.clock,
      issuer: config.issuer,
      clockToleranceSeconds: config.keyDurations.clockToleranceSeconds,
      // Used assertion ids are shared by every replica: in Redis when configured, else the database.
      jtis: shared === undefined ? services.storage.assertionJtis : createRedisAssertionJtiStore(shared),
      audit: services.audit,
    }),
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    clock: services.clock,
    rateLimits: {
      token: endpointBudgets('token'),
      revoke: endpointBudgets('revoke'),
      introspect: endpointBudgets('introspect'),
      signIn: endpointBudgets('signin'),
      userinfo: endpointBudgets('userinfo'),
    },
    signIn: {
      clientStore: services.clientStore,
      resourceStore: services.resourceStore,
      users: services.users,
      sessions: services.sessions,
      codes: services.codes,
      idTokens: services.idTokens,
      throttle: services.throttle,
      passwordChecks,
    },
    grants: createGrantRegistry({
      users: services.users,
      refreshTokens: services.refreshTokens,
      throttle: services.throttle,
      passwordChecks,
      audit: services.audit,
      codes: services.codes,
      idTokens: services.idTokens,
      storage: services.storage,
      resources: services.resourceStore,
      accessTokens: services.accessTokens,
      revocations: services.revocations,
      tokenExchangeMaxDepth: config.tokenExchangeMaxDepth,
    }),
    accessTokens: services.accessTokens,
    refreshTokens: services.refreshTokens,
    revocations: services.revocations,
    translateError: toDatabaseUnavailable,
    audit: services.audit,
    ...(redis === undefined ? {} : { pingRedis: () => redis.ping() }),
    metrics: createServiceMetrics('auth-server', services.registry),
    observeError: (error, req) => {
      if (req.path === '/oauth/token') tokenErrors.inc({ error: error.code });
    },
  };

  // The skeleton every service shares (shared/src/http/service.ts) around the auth server's routes.
  return createServiceApp({
    logger: deps.logger,
    metrics: deps.metrics,
    corsOrigins: deps.corsOrigins,
    trustProxy: deps.trustProxy,
    openApi: openApiDocument(),
    errors: { realm: 'tessera', translate: deps.translateError, observe: deps.observeError },
    // The busiest routes first: every router a request passes costs it the route matching.
    routes: [
      createTokenRouter({
        ...deps,
        rateLimits: deps.rateLimits.token,
        userinfoAudience: `${deps.issuer}${userinfoPath}`,
      }),
      createWellKnownRouter(deps),
      createRevocationFeedRouter(deps),
      createRevokeRouter({ ...deps, rateLimits: deps.rateLimits.revoke }),
      createIntrospectRouter({
        ...deps,
        resources: deps.storage.resources,
        rateLimits: deps.rateLimits.introspect,
      }),
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
      createUserinfoRouter({ ...deps, limiter: deps.rateLimits.userinfo.perIp }),
      createEndSessionRouter({
        ...deps.signIn,
        ...deps,
        clients: deps.signIn.clientStore,
        limiter: deps.rateLimits.signIn.perIp,
      }),
      createHealthRouter(deps),
    ],
  });
}
