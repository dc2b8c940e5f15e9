import type { Request, Response } from 'express';

/** True when an If-None-Match header matches the ETag (weak comparison, RFC 9110 §13.1.2). */
function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/** Sends a public, cacheable document with a strong ETag, or 304 when the client holds it. */
export function sendCacheable(
  req: Request,
  res: Response,
  document: { body: string | Buffer; etag: string; contentType: string; cacheControl: string },
): void {
  res.set({ 'Cache-Control': document.cacheControl, ETag: document.etag });
  if (matchesEtag(req.headers['if-none-match'], document.etag)) {
    res.status(304).end();
    return;
  }
  res.set('Content-Type', document.contentType).send(document.body);
}
