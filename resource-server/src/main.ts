import {
  ConfigError,
  createJwksKeyProvider,
  createLogger,
  createRevocationFeed,
  serveService,
} from '@tessera/shared';
import { createApp } from './app.js';
import { createResourceMetrics } from './metrics.js';
import { loadConfig, type ResourceServerConfig } from './config.js';

// The composition root and the only reader of process.env.
function configOrExit(): ResourceServerConfig {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`resource-server: ${problem}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const logger = createLogger({ name: 'resource-server', level: config.logLevel });
const metrics = createResourceMetrics();
const keys = createJwksKeyProvider({
  jwksUri: config.jwksUri,
  logger: logger.child({ component: 'jwks' }),
  staleWindowSeconds: config.jwksStaleWindowSeconds,
  minRefreshSeconds: config.jwksMinRefreshSeconds,
  onFetch: (result) => metrics.jwksFetches.inc({ result }),
});
const revocations = createRevocationFeed({
  uri: config.revocationFeedUri,
  refreshSeconds: config.revocationRefreshSeconds,
  logger: logger.child({ component: 'revocations' }),
  onFetch: (result) => metrics.feedFetches.inc({ result }),
  // The feed announces the key set's version: a key replaced after a compromise is fetched at once.
  onKeySet: (version) => keys.keySetChanged(version),
});
// Not awaited: the service listens at once, reports not-ready and answers 503 on protected routes
// until the first key set and the first revocation list arrive (fail closed).
void keys.start();
void revocations.start();
const app = createApp({ config, logger, keys, revocations, metrics });
await serveService({
  logger,
  app,
  listen: { port: config.port, host: config.host },
  metrics: { registry: metrics.registry, ...config.metrics },
  beforeClose: () => {
    keys.stop();
    revocations.stop();
  },
}).catch((error: unknown) => {
  // One clear line (e.g. the port is taken), not a stack.
  process.stderr.write(
    `resource-server: cannot listen: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
