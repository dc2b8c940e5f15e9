import {
  createServiceMetrics,
  type JwksKeyProvider,
  type RevocationFeed,
  type ServiceMetrics,
} from '@tessera/shared';
import { Counter, Gauge } from 'prom-client';

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

/** What operators watch on a resource server, in a registry of its own. */
export function createResourceMetrics(): ResourceMetrics {
  const service = createServiceMetrics('resource-server');
  const { registry } = service;
  const counter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['result'] as const, registers: [registry] });
  return {
    ...service,
    jwksFetches: counter('tessera_jwks_fetches_total', 'JWKS requests by result'),
    feedFetches: counter('tessera_revocation_feed_fetches_total', 'Revocation feed requests by result'),
    verifications: counter('tessera_token_verifications_total', 'Bearer token checks by result'),
    watch(keys, revocations) {
      new Gauge({
        name: 'tessera_jwks_age_seconds',
        help: 'Seconds since the JWKS was last confirmed by the auth server (-1 before the first load)',
        registers: [registry],
        collect() {
          this.set(keys.status().ageSeconds ?? -1);
        },
      });
      new Gauge({
        name: 'tessera_jwks_usable',
        help: '1 while the held key set may verify tokens (loaded, within its stale window)',
        registers: [registry],
        collect() {
          this.set(keys.status().usable ? 1 : 0);
        },
      });
      if (revocations === undefined) return;
      new Gauge({
        name: 'tessera_revocation_feed_age_seconds',
        help: 'Seconds since the revocation feed was last confirmed (-1 before the first load)',
        registers: [registry],
        collect() {
          this.set(revocations.status().ageSeconds ?? -1);
        },
      });
      new Gauge({
        name: 'tessera_revocation_feed_usable',
        help: '1 while the held revocation list may be relied on (loaded, within its bound); 0: protected routes answer 503',
        registers: [registry],
        collect() {
          this.set(revocations.status().usable ? 1 : 0);
        },
      });
      new Gauge({
        name: 'tessera_revocation_feed_stale_after_seconds',
        help: 'Age past which the held revocation list stops counting (derived from REVOCATION_REFRESH_INTERVAL)',
        registers: [registry],
        collect() {
          this.set(revocations.status().staleAfterSeconds);
        },
      });
      new Gauge({
        name: 'tessera_revocation_feed_bytes',
        help: 'Size of the last revocation feed document received',
        registers: [registry],
        collect() {
          this.set(revocations.status().bytes);
        },
      });
    },
  };
}
