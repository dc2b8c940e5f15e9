import type { RequestHandler } from 'express';

/** Headers a browser may send cross-origin: the bearer token and a JSON or form body. */
const allowedHeaders = 'Authorization, Content-Type';
/** How long a browser may cache a preflight answer (seconds). */
const preflightMaxAgeSeconds = 600;

/**
 * CORS (Fetch standard §3.2) for an allow-list of exact origins; with an empty list, no CORS
 * header is ever sent, so browsers keep cross-origin reads blocked. Credentials (cookies) are never
 * allowed: Tessera's credentials are bearer tokens and client secrets, sent explicitly. A preflight
 * from a listed origin is answered 204 here; one from any other origin falls through to the routes
 * (a 404 or 405 without CORS headers, which the browser treats as a refusal).
 *
 * @param origins exact origins (`https://app.example.com`), as `corsOrigins()` parses them
 * @param methods the methods to allow cross-origin
 */
export function createCors(origins: readonly string[], methods: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  const allowMethods = methods.join(', ');
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (allowed.size === 0) {
      next();
      return;
    }
    // The answer depends on Origin, so shared caches must key on it (Fetch §3.2.5, RFC 9110 §12.5.5).
    res.vary('Origin');
    if (origin === undefined || !allowed.has(origin)) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', allowMethods);
      res.setHeader('Access-Control-Allow-Headers', allowedHeaders);
      res.setHeader('Access-Control-Max-Age', String(preflightMaxAgeSeconds));
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After');
    next();
  };
}
