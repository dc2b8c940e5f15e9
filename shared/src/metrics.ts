import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';
import { sendBody } from './http/send.js';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  /** This service's registry: register domain metrics here (`registers: [registry]`). */
  registry: Registry;
  /**
   * Records one finished request in `http_request_duration_seconds{method, route, status}`;
   * give it to `createHttpLogger({ observe })`, which times every request.
   */
  observeRequest: (req: IncomingMessage, res: ServerResponse, seconds: number) => void;
  /** `GET /metrics` in the Prometheus text format. */
  router: Router;
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

  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    sendBody(res, 200, registry.contentType, await registry.metrics());
  });
  return { registry, observeRequest, router };
}
