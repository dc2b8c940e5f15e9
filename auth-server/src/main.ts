import { ConfigError, createLogger, runMain, serveService } from '@tessera/shared';
import { isUnsafeInProduction } from './clients/clients.js';
import { loadConfig } from './config.js';
import { KeyDecryptionError } from './keys/encryption.js';
import { openRedis } from './limits/redis.js';
import { registerDevelopmentResource } from './resources/resources.js';
import { createAuthApp, loadServices } from './app.js';

/** How often forgotten failed-login records are deleted. */
const pruneIntervalMs = 10 * 60 * 1000;

/** The process around the composition root (app.ts): the only reader of process.env. config → logger → services → keys → app → listen. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ name: 'auth-server', level: config.logLevel });
  const services = await loadServices(config, logger);
  if (config.production) {
    const unsafe = (await services.storage.clients.list()).filter(isUnsafeInProduction);
    if (unsafe.length > 0)
      throw new ConfigError(
        unsafe.map(
          (client) =>
            `client ${client.clientId}: a public client with the password grant is refused in production (RFC 9700 §2.4); delete it or register it as confidential`,
        ),
      );
  } else await registerDevelopmentResource(services.storage.resources, services.clock, logger);
  await services.keys.load();
  // Due lifecycle transitions and other replicas' changes are picked up every KEY_RELOAD_INTERVAL.
  services.keys.start();
  const redis = config.redisUrl === undefined ? undefined : await openRedis(config.redisUrl);
  redis?.on('error', (error: Error) =>
    logger.warn({ err: error.message }, 'Redis unavailable; rate limits are per process until it is back'),
  );
  const app = createAuthApp(config, logger, services, redis);
  // Housekeeping: forget old failed logins, expired refresh tokens, revocations nothing can match
  // and the ids of client assertions that have expired.
  const prune = setInterval(() => {
    const now = services.clock.now();
    Promise.all([
      services.throttle.prune(),
      services.storage.refreshTokens.prune(now),
      services.storage.revocations.prune(Math.floor(now / 1000)),
      services.storage.assertionJtis.prune(now),
      services.storage.authorizationCodes.prune(now),
      services.storage.browserSessions.prune(now),
    ]).catch((error: unknown) => logger.warn({ err: error }, 'pruning expired records failed'));
  }, pruneIntervalMs);
  prune.unref();

  await serveService({
    logger,
    app,
    listen: { port: config.port, host: config.host },
    metrics: { registry: services.registry, ...config.metrics },
    details: { issuer: config.issuer, rateLimits: redis ? 'redis' : 'memory' },
    beforeClose: () => {
      services.keys.stop();
      clearInterval(prune);
    },
    afterClose: async () => {
      await redis?.quit();
      await services.storage.close();
    },
  });
}

runMain('auth-server', main, (error) =>
  error instanceof KeyDecryptionError
    ? `${error.message}; refusing to start (no key was regenerated)`
    : undefined,
);
