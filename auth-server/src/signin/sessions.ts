import { createHash, createHmac, hkdfSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Clock } from '@tessera/shared';
import type { BrowserSessionRecord, Storage } from '../storage/storage.js';

export interface SessionPolicy {
  idleTtlSeconds: number;
  ttlSeconds: number;
}

/**
 * Signed-in browsers. The cookie carries 256 random bits; the store keeps only their digest.
 * Under an https issuer the cookie is `__Host-` prefixed (Secure, Path=/, no Domain); under a
 * plain-http issuer (local development) browsers refuse `__Host-` cookies, so the name has no
 * prefix and no Secure flag. HttpOnly and SameSite=Lax either way.
 */
export interface BrowserSessions {
  /** The live session the request's cookie names (its idle expiry extended), or undefined. */
  read(req: Request): Promise<BrowserSessionRecord | undefined>;
  /** Starts a session for a user who just typed their password; sets the cookie. */
  start(res: Response, userId: string): Promise<BrowserSessionRecord>;
  /** Ends the request's session (if any) and clears the cookie. */
  end(req: Request, res: Response): Promise<BrowserSessionRecord | undefined>;
  /** A CSRF token for this browser's forms (sets the CSRF cookie if it has none). */
  csrfToken(req: Request, res: Response): string;
  /** True if `token` is the one csrfToken gave this browser. */
  csrfValid(req: Request, token: string | undefined): boolean;
}

/** Cookie values from the Cookie header (RFC 6265 §5.4); the first of a repeated name wins. */
export function readCookies(req: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 1) continue;
    const name = pair.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim());
  }
  return cookies;
}

const tokenPattern = /^[A-Za-z0-9_-]{43}$/;
const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export function createBrowserSessions(deps: {
  storage: Storage;
  clock: Clock;
  issuer: string;
  policy: SessionPolicy;
  /** The key-encryption secret; a separate key is derived from it for CSRF tokens. */
  secret: string;
}): BrowserSessions {
  const { storage, clock, policy } = deps;
  const secure = deps.issuer.startsWith('https://');
  const prefix = secure ? '__Host-' : '';
  const sessionCookie = `${prefix}tessera-session`;
  const csrfCookie = `${prefix}tessera-csrf`;
  const csrfKey = Buffer.from(hkdfSync('sha256', deps.secret, 'tessera', 'sign-in-csrf/v1', 32));
  const cookieOptions = { httpOnly: true, secure, sameSite: 'lax', path: '/' } as const;
  const csrfFor = (value: string) => createHmac('sha256', csrfKey).update(value).digest('base64url');

  const live = (session: BrowserSessionRecord, now: number) =>
    session.endedAt === null && now < session.expiresAt && now < session.idleExpiresAt;

  function cookieToken(req: Request): string | undefined {
    const token = readCookies(req).get(sessionCookie);
    return token !== undefined && tokenPattern.test(token) ? token : undefined;
  }

  return {
    async read(req) {
      const token = cookieToken(req);
      if (token === undefined) return undefined;
      const session = await storage.browserSessions.find(digest(token));
      const now = clock.now();
      if (session === undefined || !live(session, now)) return undefined;
      const idleExpiresAt = Math.min(session.expiresAt, now + policy.idleTtlSeconds * 1000);
      await storage.browserSessions.touch(session.id, now, idleExpiresAt);
      return { ...session, lastSeenAt: now, idleExpiresAt };
    },

    async start(res, userId) {
      const token = randomBytes(32).toString('base64url');
      const now = clock.now();
      const session: BrowserSessionRecord = {
        id: digest(token),
        sid: randomUUID(),
        userId,
        authTime: now,
        lastSeenAt: now,
        idleExpiresAt: now + Math.min(policy.idleTtlSeconds, policy.ttlSeconds) * 1000,
        expiresAt: now + policy.ttlSeconds * 1000,
        endedAt: null,
      };
      await storage.browserSessions.insert(session);
      // No Max-Age: the cookie goes when the browser closes; the server ends it sooner if idle.
      res.cookie(sessionCookie, token, cookieOptions);
      return session;
    },

    async end(req, res) {
      res.clearCookie(sessionCookie, cookieOptions);
      const token = cookieToken(req);
      if (token === undefined) return undefined;
      const session = await storage.browserSessions.find(digest(token));
      if (session === undefined) return undefined;
      await storage.browserSessions.end(session.id, clock.now());
      return session;
    },

    csrfToken(req, res) {
      let value = readCookies(req).get(csrfCookie);
      if (value === undefined || !tokenPattern.test(value)) {
        value = randomBytes(32).toString('base64url');
        res.cookie(csrfCookie, value, cookieOptions);
      }
      return csrfFor(value);
    },

    csrfValid(req, token) {
      const value = readCookies(req).get(csrfCookie);
      if (value === undefined || token === undefined || !tokenPattern.test(value)) return false;
      const expected = Buffer.from(csrfFor(value));
      const given = Buffer.from(token);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
