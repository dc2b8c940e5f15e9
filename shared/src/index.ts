// The public surface of @tessera/shared: what a service (ours or another repository's) builds on.
// shared/README.md documents it; anything not exported here is internal and may change.

// A service that takes Tessera access tokens, in one call, or in parts.
export { runResourceService, runMain, type ResourceServiceOptions } from './resource/main.js';
export { createResourceApp, type ResourceAppOptions, type ResourceRouteContext } from './resource/app.js';
export {
  resourceConfig,
  resourceVariables,
  resourceVariableDocs,
  type ResourceConfig,
  type ResourceConfigReader,
  type ResourceConfigShape,
} from './resource/config.js';
export { createResourceMetrics, type ResourceMetrics } from './resource/metrics.js';
export { verifierReadiness } from './resource/readiness.js';
export { createTokenGuard, type TokenGuardOptions } from './resource/require-token.js';

// The skeleton every service's HTTP app and process share.
export { createServiceApp, serveService, type ServeOptions, type ServiceAppOptions } from './http/service.js';
export { createHealthRouter, type Readiness } from './http/health.js';
export { listen, type Listening } from './http/server.js';
export { sendBody, sendCacheable, sendJson } from './http/send.js';
export {
  createProtectedResourceMetadataRouter,
  protectedResourceMetadataBody,
  protectedResourceMetadataUrl,
  protectedResourceWellKnown,
  type ProtectedResourceMetadata,
} from './http/protected-resource.js';
// OpenAPI: the document's types and building blocks (the skeleton serves a document; it does not make one).
export * from './http/openapi.js';
export {
  createMetricsApp,
  createServiceMetrics,
  registerScrapeGauge,
  type ServiceMetrics,
} from './metrics.js';

// Configuration.
export {
  commonVariableDocs,
  ConfigError,
  corsOrigins,
  duration,
  httpUrl,
  isLoopbackUrl,
  logLevel,
  metricsVariables,
  parseDuration,
  port,
  readEnv,
  readServiceConfig,
  serviceVariables,
  type ServiceConfig,
  type VariableDoc,
} from './config.js';

// Errors, logging, time.
export {
  AppError,
  createErrorHandler,
  errorCodeOf,
  exitStatusOf,
  LocalError,
  methodNotAllowed,
  toAppError,
  type AppErrorOptions,
  type ErrorCode,
  type ErrorHandlerOptions,
  type LocalErrorCode,
} from './errors.js';
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { createFixedClock, systemClock, type Clock } from './clock.js';

// Verifying access tokens, piece by piece.
export {
  createJwksKeyProvider,
  type JwksKeyProvider,
  type JwksKeyProviderOptions,
  type JwksKeyProviderStatus,
} from './jwks/key-provider.js';
export { readBearerToken, type PresentedBearer } from './jwt/bearer.js';
export {
  createAccessTokenVerifier,
  createJwtStrategy,
  maxAccessTokenLength,
  type AccessTokenClaims,
  type AccessTokenVerifier,
  type AuthenticatedUser,
  type JwtStrategyOptions,
} from './jwt/strategy.js';
export {
  createRequireToken,
  requireDelegation,
  requireScope,
  type PassportAuthenticator,
  type RequireTokenOptions,
} from './jwt/require-token.js';
export {
  createVerifiedTokenCache,
  type VerifiedTokenCache,
  type VerifiedTokenCacheOptions,
} from './jwt/verified-token-cache.js';
export {
  createRevocationFeed,
  type RevocationFeed,
  type RevocationFeedOptions,
  type RevocationFeedStatus,
} from './revocation/revocation-feed.js';

// The revocation feed's format (the auth server writes it, verifiers read it).
export {
  isRevokedBy,
  maxClockToleranceSeconds,
  revocationDigest,
  revocationFeedMaxBytes,
  toRevocationFeedDocument,
  toRevocationIndex,
  type RevocationClaim,
  type RevocationEntry,
  type RevocationFeedDocument,
  type RevocationIndex,
} from './revocation/feed-document.js';

// Calling an auth server as a client with a key (private_key_jwt), and making key pairs.
export {
  clientAssertion,
  jwtBearerClientAssertionType,
  type ClientAssertionOptions,
  type ClientAssertionParameters,
} from './jwt/client-assertion.js';
export { newKeyPair, newKeyPairSync, type KeyPair, type KeyPairSpec } from './crypto/key-pair.js';
