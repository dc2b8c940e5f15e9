import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import {
  createDocumentPoller,
  type DocumentPollerStatus,
  type FetchResult,
} from '../http/document-poller.js';
import {
  isRevokedBy,
  parseRevocationFeed,
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
}

export interface RevocationFeed {
  start(): Promise<void>;
  stop(): void;
  /** True when verified claims match a revocation in the last feed received (a few map lookups). */
  isRevoked(claims: Readonly<Record<string, unknown>>): boolean;
  status(): DocumentPollerStatus & { entries: number };
}

/**
 * The verifier's copy of the auth server's revocation feed, so a revoked access token is
 * refused without a call per request. If the feed cannot be reached, the last list keeps
 * applying (and status() says how old it is); verification itself never stops for it.
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  const refreshSeconds = options.refreshSeconds ?? 15;
  if (!Number.isFinite(refreshSeconds) || refreshSeconds <= 0)
    throw new TypeError('createRevocationFeed: refreshSeconds must be a positive number');
  const poller = createDocumentPoller<{ index: RevocationIndex; entries: number }>({
    uri: options.uri,
    name: 'revocation feed',
    logger: options.logger,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.onFetch === undefined ? {} : { onFetch: options.onFetch }),
    parse(json) {
      const document = parseRevocationFeed(json);
      if (document === undefined) throw new Error('revocation feed is malformed');
      const index = toRevocationIndex(document);
      return { index, entries: [...index.values()].reduce((sum, entries) => sum + entries.size, 0) };
    },
    // Our own interval, not the feed's max-age: how fast revocations land is the verifier's choice.
    onSuccess: () => refreshSeconds,
    retrySeconds: (failures) => Math.min(refreshSeconds, 2 ** (failures - 1)),
  });
  return {
    start: () => poller.start(),
    stop: () => poller.stop(),
    isRevoked(claims) {
      const held = poller.current();
      return held !== undefined && isRevokedBy(held.index, claims);
    },
    status: () => ({ ...poller.status(), entries: poller.current()?.entries ?? 0 }),
  };
}
