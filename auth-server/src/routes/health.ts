import { sendJson, systemClock, type Clock } from '@tessera/shared';
import { Router } from 'express';
import type { z } from 'zod';
import type { livenessBody, readinessBody } from '../contract.js';
import type { KeyManager } from '../keys/key-manager.js';
import type { Storage } from '../storage/storage.js';

/**
 * Liveness (the process answers) and readiness: the store answers, a signing key is loaded,
 * and, when REDIS_URL is set, Redis answers (requests then still run, on per-process limits,
 * but a replica without the shared budgets should take no new traffic).
 *
 * `/readyz` is unauthenticated and its checks reach the store and Redis, so they run at most once
 * per `readyCheckMs` (1 s) and concurrent probes share one run: a flood of probes costs the
 * connection pool one query a second, never one per request. Probes poll every few seconds, so
 * an answer up to a second old changes nothing for them.
 */
export function createHealthRouter(deps: {
  storage: Storage;
  keys: KeyManager;
  /** Pings the shared Redis, if one is configured. */
  pingRedis?: () => Promise<unknown>;
  clock?: Clock;
  readyCheckMs?: number;
}): Router {
  const clock = deps.clock ?? systemClock;
  const readyCheckMs = deps.readyCheckMs ?? 1000;
  const router = Router();
  const answers = (check: Promise<unknown>) =>
    check.then(
      () => true,
      () => false,
    );
  const runChecks = async () => {
    const [storage, redis] = await Promise.all([
      answers(deps.storage.ping()),
      deps.pingRedis === undefined ? undefined : answers(deps.pingRedis()),
    ]);
    return { storage, ...(redis === undefined ? {} : { redis }) };
  };
  let last: { at: number; checks: Promise<{ storage: boolean; redis?: boolean }> } | undefined;
  const sharedChecks = () => {
    const now = clock.now();
    if (last === undefined || now - last.at >= readyCheckMs) last = { at: now, checks: runChecks() };
    return last.checks;
  };
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { status: 'ok' } satisfies z.input<typeof livenessBody>);
  });
  router.get('/readyz', async (_req, res) => {
    const { storage, redis } = await sharedChecks();
    const checks = { storage, keys: deps.keys.ready(), ...(redis === undefined ? {} : { redis }) };
    const ready = Object.values(checks).every(Boolean);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, ready ? 200 : 503, {
      status: ready ? 'ready' : 'not ready',
      checks,
    } satisfies z.input<typeof readinessBody>);
  });
  return router;
}
