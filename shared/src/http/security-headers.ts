import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * helmet, set up for JSON APIs: the headers the OWASP REST Security Cheat Sheet lists for API
 * responses ("Security Headers"), and only those. helmet's defaults are written for HTML pages;
 * most of them (COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection) govern what a browser does with a
 * document, and a bearer-token API's answers are never rendered as one. Each header costs every
 * request its serialisation (we measured helmet's twelve at a tenth of a bare Express
 * route), so the ones with no effect here are left out.
 *
 * Sent on every answer: `Content-Security-Policy: default-src 'none';frame-ancestors 'none'`
 * (nothing loads, nothing frames), `Strict-Transport-Security`, `X-Content-Type-Options: nosniff`,
 * `X-Frame-Options: DENY` (frame-ancestors for old browsers), `Referrer-Policy: no-referrer`
 * (a URL followed from an answer never carries ours along) and
 * `Cross-Origin-Resource-Policy: same-origin` (another site cannot load an answer as an image,
 * script or other no-cors resource, so a browser never puts it in a page's process where
 * Spectre-class side channels could read it; CORS requests, which CORS_ORIGINS governs, are not
 * affected); `X-Powered-By` removed. `Cache-Control` is per route (`no-store` on anything with a
 * secret or a caller's data).
 */
export function apiSecurityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    xFrameOptions: { action: 'deny' },
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: false,
    referrerPolicy: { policy: 'no-referrer' },
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
}
