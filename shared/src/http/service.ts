import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { createCors } from '../cors.js';
import { createErrorHandler, notFound, type ErrorHandlerOptions } from '../errors.js';
import type { Logger } from '../logger.js';
import { createMetricsApp, type ServiceMetrics } from '../metrics.js';
import { createOpenApiRouter, type OpenApiDocument } from './openapi.js';
import { apiSecurityHeaders } from './security-headers.js';
import { createHttpLogger, exitOnSignals, listen } from './server.js';

export interface ServiceAppOptions {
  logger: Logger;
  /** Times every request into `http_request_duration_seconds`. */
  metrics: Pick<ServiceMetrics, 'observeRequest'>;
  /** Origins allowed cross-origin (CORS); empty: CORS off. */
  corsOrigins: readonly string[];
  /** Express's `trust proxy` (which X-Forwarded-For hops give req.ip); unset: none. */
  trustProxy?: number | readonly string[];
  /** The service's own routers (health included), busiest first: each one a request passes costs it. */
  routes: readonly RequestHandler[];
  /** Served at `GET /openapi.json`. */
  openApi: OpenApiDocument;
  /** The error handler's options beyond the logger: its realm, translations, observers. */
  errors: Omit<ErrorHandlerOptions, 'logger'>;
}

/**
 * A service's HTTP app in the one middleware order every Tessera service uses: security headers,
 * the request log (with request id and latency), CORS, the service's routes, the OpenAPI
 * document, 404 and the error handler (RFC error bodies). No environment, no listening.
 */
export function createServiceApp(options: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Only then does req.ip (a per-IP rate-limit key) come from X-Forwarded-For; else it could be forged.
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy);
  app.use(apiSecurityHeaders());
  app.use(createHttpLogger(options.logger, { observe: options.metrics.observeRequest }));
  app.use(createCors(options.corsOrigins, ['GET', 'POST']));
  for (const route of options.routes) app.use(route);
  app.use(createOpenApiRouter(options.openApi));
  app.use(notFound);
  app.use(createErrorHandler({ logger: options.logger, ...options.errors }));
  return app;
}

export interface ServeOptions {
  logger: Logger;
  app: Express;
  /** The API's listener. */
  listen: { port: number; host: string };
  /** `GET /metrics` from this registry on a listener of its own, which only the monitoring network reaches. */
  metrics: { registry: Registry; port: number; host: string };
  /** Logged with the `listening` line. */
  details?: Record<string, unknown>;
  /** On SIGTERM/SIGINT: run before the listeners close (stop timers and pollers). */
  beforeClose?: () => void;
  /** On SIGTERM/SIGINT: run once both listeners are closed (close connections to stores). */
  afterClose?: () => Promise<unknown>;
}

/**
 * Listens with the app and the metrics app, logs `listening`, and stops both on SIGTERM/SIGINT
 * (draining open requests). Rejects when a listener cannot start (the port is taken, say).
 */
export async function serveService(options: ServeOptions): Promise<void> {
  const { logger } = options;
  const server = await listen(options.app, options.listen);
  const metricsServer = await listen(
    createMetricsApp(options.metrics.registry, logger),
    options.metrics,
  ).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  logger.info(
    {
      port: server.port,
      host: options.listen.host,
      metricsPort: metricsServer.port,
      metricsHost: options.metrics.host,
      ...options.details,
    },
    'listening',
  );
  exitOnSignals(logger, async () => {
    options.beforeClose?.();
    await Promise.all([server.close(), metricsServer.close()]);
    await options.afterClose?.();
  });
}
