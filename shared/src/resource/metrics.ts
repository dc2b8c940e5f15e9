import { Counter } from 'prom-client';
import type { JwksKeyProvider } from '../jwks/key-provider.js';
import { createServiceMetrics, registerScrapeGauge, type ServiceMetrics } from '../metrics.js';
import type { RevocationFeed } from '../revocation/revocation-feed.js';

export interface ResourceMetrics extends ServiceMetrics {
  /** JWKS requests by result: updated, not_modified, failed. */
  jwksFetches: Counter<'result'>;
  /** Revocation-feed requests by result. */
  feedFetches: Counter<'result'>;
  /** Bearer-token checks by result: valid, or the RFC 6750 error code that answered. */
  verifications: Counter<'result'>;
  /** Reports the key set's and the feed's age and usability at each scrape. */
  watch(keys: JwksKeyProvider, revocations?: RevocationFeed): void;
}

/**
 * What operators watch on a service that verifies tokens (the service metrics, the key set,
 * the revocation feed, the verdicts), in a registry of its own.
 */
export function createResourceMetrics(service: string): ResourceMetrics {
  const base = createServiceMetrics(service);
  const { registry } = base;
  const counter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['result'] as const, registers: [registry] });
  const gauge = (name: string, help: string, read: () => number) =>
    registerScrapeGauge(registry, { name, help, read });
  return {
    ...base,
    jwksFetches: counter('tessera_jwks_fetches_total', 'JWKS requests by result'),
    feedFetches: counter('tessera_revocation_feed_fetches_total', 'Revocation feed requests by result'),
    verifications: counter('tessera_token_verifications_total', 'Bearer token checks by result'),
    watch(keys, revocations) {
      gauge(
        'tessera_jwks_age_seconds',
        'Seconds since the JWKS was last confirmed by the auth server (-1 before the first load)',
        () => keys.status().ageSeconds ?? -1,
      );
      gauge(
        'tessera_jwks_usable',
        '1 while the held key set may verify tokens (loaded, within its stale window)',
        () => (keys.status().usable ? 1 : 0),
      );
      if (revocations === undefined) return;
      gauge(
        'tessera_revocation_feed_age_seconds',
        'Seconds since the revocation feed was last confirmed (-1 before the first load)',
        () => revocations.status().ageSeconds ?? -1,
      );
      gauge(
        'tessera_revocation_feed_usable',
        '1 while the held revocation list may be relied on (loaded, within its bound); 0: protected routes answer 503',
        () => (revocations.status().usable ? 1 : 0),
      );
      gauge(
        'tessera_revocation_feed_stale_after_seconds',
        'Age past which the held revocation list stops counting (derived from REVOCATION_REFRESH_INTERVAL)',
        () => revocations.status().staleAfterSeconds,
      );
      gauge(
        'tessera_revocation_feed_bytes',
        'Size of the last revocation feed document received',
        () => revocations.status().bytes,
      );
    },
  };
}
