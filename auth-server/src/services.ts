import { mkdirSync } from 'node:fs';
import type { Express } from 'express';
import { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { type Clock, type Logger, createServiceMetrics, systemClock } from '@tessera/shared';
import { createApp } from './app.js';
import { createAuditTrail, registerAuthMetrics, type AuditTrail } from './audit.js';
import { createRedisAssertionJtiStore } from './clients/assertion-jtis.js';
import { createClientAuthenticator } from './clients/client-auth.js';
import { createCachedClientStore } from './clients/client-cache.js';
import { createClientService, type ClientService } from './clients/clients.js';
import type { AuthConfig } from './config.js';
import { createGrantRegistry } from './grants/index.js';
import { createKeyEncryptionKey } from './keys/encryption.js';
import { loadKeyEncryptionSecret } from './keys/encryption-secret.js';
import { createKeyManager, type KeyManager } from './keys/key-manager.js';
import { createConcurrencyLimit } from './limits/concurrency-limit.js';
import { createLoginThrottle, type LoginThrottle } from './limits/login-throttle.js';
import { createRequestLimiter } from './limits/request-limiter.js';
import { openDatabase, toDatabaseUnavailable } from './storage/sql/database.js';
import { migrateToLatest } from './storage/sql/migrations.js';
import { createSqlStorage } from './storage/sql/sql-storage.js';
import type { ClientStore, ResourceStore, Storage } from './storage/storage.js';
import { createPasswordHasher, type PasswordHasher } from './users/passwords.js';
import { createAccessTokenIssuer, type AccessTokenIssuer } from './tokens/access-token.js';
import { createRefreshTokenService, type RefreshTokenService } from './tokens/refresh-tokens.js';
import {
  createRevocationService,
  registerRevocationMetrics,
  type RevocationService,
} from './tokens/revocations.js';
import { createUserService, type UserService } from './users/users.js';
import { createAuthorizationCodeService, type AuthorizationCodeService } from './signin/codes.js';
import { createIdTokenIssuer, type IdTokenIssuer } from './signin/id-token.js';
import { createBrowserSessions, type BrowserSessions } from './signin/sessions.js';
import { createCachedResourceStore } from './resources/resource-cache.js';
import { createResourceService, type ResourceService } from './resources/resources.js';

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
  const resources = createResourceService({ resources: cachedResources, clients: cachedClients, clock });
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
      hasher: hasher ?? (await createPasswordHasher()),
      clock,
      revokeUser: (userId) => revocations.revokeUser(userId),
    }),
    // No store round trip per token request for a known client.
    clients: createClientService({
      clients: cachedClients,
      requireResources: (uris) => resources.requireRegistered(uris),
      clock,
      production: config.production,
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
 * The HTTP app wired from configuration and loaded services (what main.ts serves and tests call).
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
  return createApp({
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
  });
}
