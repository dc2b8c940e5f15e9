import { ConfigError } from '../config.js';
import type { OpenApiDocument } from '../http/openapi.js';
import { serveService } from '../http/service.js';
import { createJwksKeyProvider } from '../jwks/key-provider.js';
import { createLogger } from '../logger.js';
import { createRevocationFeed } from '../revocation/revocation-feed.js';
import { createResourceApp, type ResourceRouteContext } from './app.js';
import { resourceConfig, type ResourceConfigShape } from './config.js';
import { createResourceMetrics } from './metrics.js';
import type { RequestHandler } from 'express';

/**
 * A service's process, the one shape every Tessera service's `main.ts` has: runs `start` and, if
 * it fails, writes one line per problem to stderr (no stack: these are operator mistakes, such as
 * a bad variable or a port in use) and exits with 1.
 */
export function runMain(
  name: string,
  start: () => Promise<unknown>,
  /** A service's own line for errors it knows (the auth server's undecryptable keys, say). */
  describe?: (error: unknown) => string | undefined,
): void {
  start().catch((error: unknown) => {
    const own = describe?.(error);
    if (own !== undefined) process.stderr.write(`${name}: ${own}\n`);
    else if (error instanceof ConfigError)
      process.stderr.write(`${name}: invalid configuration\n  ${error.problems.join('\n  ')}\n`);
    else
      process.stderr.write(
        `${name}: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    process.exit(1);
  });
}

export interface ResourceServiceOptions extends ResourceConfigShape {
  /** The service's name in its logs and metrics. */
  name: string;
  /** Served at `GET /openapi.json`. */
  openApi: OpenApiDocument;
  /** The service's own routers, busiest first. */
  routes: (context: ResourceRouteContext) => readonly RequestHandler[];
  /** The environment to read (default: `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Runs a service whose routes take Tessera access tokens, as a process: reads its configuration
 * from the environment (`resourceConfig`), polls the auth server's JWKS and revocation feed,
 * serves the app (`createResourceApp`) and the metrics listener, and stops on SIGTERM/SIGINT.
 * The service listens at once and reports not-ready, answering 503 on protected routes, until
 * the first key set and the first revocation list arrive (fail closed).
 */
export function runResourceService(options: ResourceServiceOptions): void {
  runMain(options.name, async () => {
    const config = resourceConfig(options).load(options.env ?? process.env);
    const logger = createLogger({ name: options.name, level: config.logLevel });
    const metrics = createResourceMetrics(options.name);
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
    // Not awaited: see above (fail closed until both have loaded).
    void keys.start();
    void revocations.start();
    const app = createResourceApp({ ...options, config, logger, keys, revocations, metrics });
    await serveService({
      logger,
      app,
      listen: { port: config.port, host: config.host },
      metrics: { registry: metrics.registry, ...config.metrics },
      beforeClose: () => {
        keys.stop();
        revocations.stop();
      },
    });
  });
}
