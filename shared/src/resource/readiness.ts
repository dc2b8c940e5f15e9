import type { Readiness } from '../http/health.js';
import type { JwksKeyProvider } from '../jwks/key-provider.js';
import type { RevocationFeed } from '../revocation/revocation-feed.js';

/**
 * A token-verifying service's readiness: a usable key set is held, so tokens can be verified,
 * and (when the service applies a revocation feed) a usable revocation list, so revoked tokens
 * are refused. Readiness stays true while refreshes fail, as long as the held key set is within
 * its stale window and the held list within its bound; both ages are published so operators see
 * a refresh problem before it bites.
 */
export function verifierReadiness({
  keys,
  revocations,
}: {
  keys: JwksKeyProvider;
  revocations?: RevocationFeed | undefined;
}): () => Readiness {
  return () => {
    const { loaded, usable, keyCount, ageSeconds } = keys.status();
    const jwks = { key_count: keyCount, age_seconds: ageSeconds ?? null };
    // Only whether the feed's last fetch failed: the reason names internal hosts and ports, and this
    // answer goes to anyone; the poller logs the reason with each failure.
    const feed = revocations?.status();
    const revocationsReport =
      feed === undefined
        ? {}
        : {
            revocations: {
              loaded: feed.loaded,
              entries: feed.entries,
              age_seconds: feed.ageSeconds ?? null,
              stale_after_seconds: feed.staleAfterSeconds,
              last_fetch_failed: feed.lastError !== undefined,
            },
          };
    const reason = !usable
      ? loaded
        ? 'signing keys are older than the stale window'
        : 'signing keys not loaded yet'
      : feed !== undefined && !feed.usable
        ? feed.loaded
          ? 'revocation list is older than its bound'
          : 'revocation list not loaded yet'
        : undefined;
    return reason === undefined
      ? { ready: true, report: { status: 'ok', jwks, ...revocationsReport } }
      : { ready: false, report: { status: 'not ready', reason, jwks, ...revocationsReport } };
  };
}
