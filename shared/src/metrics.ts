import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { createErrorHandler, notFound } from './errors.js';
import { sendBody } from './http/send.js';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  /** This service's registry: register domain metrics here (`registers: [registry]`). */
  registry: Registry;
  /**
   * Records one finished request in `http_request_duration_seconds{method, route, status}`;
   * give it to `createHttpLogger({ observe })`, which times every request.
   */
  observeRequest: (req: IncomingMessage, res: ServerResponse, seconds: number) => void;
}

/**
 * Prometheus metrics for one service: a registry of its own (never prom-client's global one,
 * so two apps in one process stay apart), process metrics, and request latency by route.
 * The route label is the matched route pattern, never the raw path, so it cannot explode.
 */
export function createServiceMetrics(service: string, registry = new Registry()): ServiceMetrics {
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, matched route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  const observeRequest = (req: IncomingMessage, res: ServerResponse, seconds: number) => {
    const route = (req as { route?: { path?: unknown } }).route?.path;
    duration.observe(
      {
        method: req.method ?? 'unknown',
        route: typeof route === 'string' ? route : 'unmatched',
        // A client gone before the answer: no status was sent (statusCode is still its default 200).
        status: res.writableFinished ? String(res.statusCode) : 'aborted',
      },
      seconds,
    );
  };

  return { registry, observeRequest };
}

/**
 * A gauge read at each scrape (an age, a size, a 0/1 state held elsewhere), in `registry`. The
 * reader may reach a store: scrapes come only from the metrics listener (see {@link createMetricsApp}).
 */
export function registerScrapeGauge(
  registry: Registry,
  gauge: { name: string; help: string; read: () => number | Promise<number> },
): void {
  new Gauge({
    name: gauge.name,
    help: gauge.help,
    registers: [registry],
    async collect() {
      this.set(await gauge.read());
    },
  });
}

/**
 * The metrics listener's app: `GET /metrics` (the registry in the Prometheus text format), and
 * the usual JSON 404 for anything else. Each service serves it apart from its API, on
 * METRICS_PORT (see {@link metricsVariables}), which only the monitoring network reaches: a
 * scrape runs every collector (some read the store), so no client of the API may trigger one,
 * and what it tells (key ids and ages, error counts) is for operators.
 */
export function createMetricsApp(registry: Registry, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    sendBody(res, 200, registry.contentType, await registry.metrics());
  });
  app.use(notFound);
  app.use(createErrorHandler({ logger, realm: 'metrics' }));
  return app;
}
