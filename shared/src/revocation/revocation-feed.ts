import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { AppError } from '../errors.js';
import {
  createDocumentPoller,
  type DocumentPollerStatus,
  type FetchResult,
} from '../http/document-poller.js';
import {
  isRevokedBy,
  parseRevocationFeed,
  revocationFeedMaxBytes,
  toRevocationIndex,
  type RevocationIndex,
} from './feed-document.js';

export interface RevocationFeedOptions {
  /** The auth server's feed, `${ISSUER}/oauth/revocations`. */
  uri: string;
  logger: Logger;
  /** How often to poll (default 15 s); a revoked token is refused within about this long. */
  refreshSeconds?: number;
  clock?: Clock;
  fetch?: typeof fetch;
  /** Told the outcome of every feed request (for metrics). */
  onFetch?: (result: FetchResult) => void;
  /**
   * Told the auth server's key-set version (its JWKS ETag) whenever a new feed document names one
   * other than the previous document did; give it to {@link JwksKeyProvider.keySetChanged}, so a
   * key replaced after a compromise is fetched at once rather than on an unknown `kid`.
   */
  onKeySet?: (version: string) => void;
}

/** What {@link RevocationFeed.status} reports; for readiness probes and metrics. */
export interface RevocationFeedStatus extends DocumentPollerStatus {
  /** Entries in the held list. */
  entries: number;
  /** Size in bytes of the last feed document received (0 before the first load). */
  bytes: number;
  /** True while the held list may be relied on: loaded, and confirmed within `staleAfterSeconds`. */
  usable: boolean;
  /** The held list counts as stale when it was last confirmed longer ago than this. */
  staleAfterSeconds: number;
}

export interface RevocationFeed {
  start(): Promise<void>;
  stop(): void;
  /**
   * True when verified claims match a revocation in the last feed received (a few digests and
   * lookups). Fails closed: throws `AppError('temporarily_unavailable')` (503, `Retry-After`) while
   * no list is usable (never loaded, or stale), because a token may be revoked without us knowing.
   */
  isRevoked(claims: Readonly<Record<string, unknown>>): boolean;
  status(): RevocationFeedStatus;
}

/**
 * How old the held list may grow before it stops counting (seconds): four refresh intervals, so
 * three polls in a row may fail (retries come at most one interval apart) before verification
 * stops, and never less than 30 s, so a short interval does not turn a blip into an outage.
 */
export function revocationStaleAfterSeconds(refreshSeconds: number): number {
  return Math.max(30, 4 * refreshSeconds);
}

/**
 * The verifier's copy of the auth server's revocation feed, so a revoked access token is
 * refused without a call per request. If the feed cannot be reached, the last list keeps
 * applying for a bounded time ({@link revocationStaleAfterSeconds}); before the first load and
 * past that bound, protected routes answer 503 and readiness fails (as with a stale key set):
 * a wrong feed URL or a cut-off auth server must never silently disable revocation.
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  const refreshSeconds = options.refreshSeconds ?? 15;
  if (!Number.isFinite(refreshSeconds) || refreshSeconds <= 0)
    throw new TypeError('createRevocationFeed: refreshSeconds must be a positive number');
  const staleAfterSeconds = revocationStaleAfterSeconds(refreshSeconds);
  const clock = options.clock ?? systemClock;
  const poller = createDocumentPoller<{
    index: RevocationIndex;
    bytes: number;
    keySet: string | undefined;
  }>({
    uri: options.uri,
    name: 'revocation feed',
    logger: options.logger,
    clock,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.onFetch === undefined ? {} : { onFetch: options.onFetch }),
    // The same bound the auth server keeps its feed under (feed-document.ts).
    maxBytes: revocationFeedMaxBytes,
    logFields: (held, line) =>
      line === 'loaded' ? { entries: held.index.size, bytes: held.bytes } : { keptEntries: held.index.size },
    parse(json, previous, bytes) {
      const document = parseRevocationFeed(json);
      if (document === undefined) throw new Error('revocation feed is malformed');
      const keySet = document.key_set;
      if (keySet !== undefined && keySet !== previous?.keySet) options.onKeySet?.(keySet);
      return { index: toRevocationIndex(document), bytes, keySet };
    },
    // Our own interval, not the feed's max-age: how fast revocations land is the verifier's choice.
    onSuccess: () => refreshSeconds,
    retrySeconds: (failures) => Math.min(refreshSeconds, 2 ** (failures - 1)),
  });

  /** Whether the held list was confirmed within its bound (checked on every request, so no object is made). */
  function isUsable(ageSeconds: number | undefined): boolean {
    return ageSeconds !== undefined && ageSeconds <= staleAfterSeconds;
  }

  // Each field written out: V8 (Node.js 20) builds `{ ...polled, more }` on a slow path, about
  // 6 µs a call, and this ran on every request.
  function status(): RevocationFeedStatus {
    const { loaded, ageSeconds, lastError } = poller.status();
    const held = poller.current();
    return {
      loaded,
      ageSeconds,
      lastError,
      entries: held?.index.size ?? 0,
      bytes: held?.bytes ?? 0,
      usable: isUsable(ageSeconds),
      staleAfterSeconds,
    };
  }

  return {
    start: () => poller.start(),
    stop: () => poller.stop(),
    isRevoked(claims) {
      const held = poller.current();
      if (held === undefined || !isUsable(poller.status().ageSeconds))
        throw new AppError(
          'temporarily_unavailable',
          held === undefined ? 'revocation list not loaded yet' : 'revocation list is out of date',
          { headers: { 'Retry-After': '5' } },
        );
      return isRevokedBy(held.index, claims);
    },
    status,
  };
}
