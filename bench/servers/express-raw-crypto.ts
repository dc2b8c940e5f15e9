/**
 * The floor for Express plus the one costly operation, nothing else: what any Express service
 * pays before helmet, logging, rate limits, client authentication or claim checks. No library
 * between the route and `node:crypto` or Argon2, bodies read and answers written the lean way
 * Tessera does (no body-parser, no `res.json`), so a floor is never slower than Tessera's own
 * plumbing.
 *
 * - GET /api/me: the bearer token's RS256 signature checked with raw `crypto.verify` against the
 *   key fetched once from JWKS_URI at start-up, then its payload parsed and returned.
 * - POST /token: a form body parsed with URLSearchParams, a claims set signed with raw `crypto.sign`
 *   (a key generated at start-up), the JWT returned as JSON.
 * - POST /login: a form body parsed with URLSearchParams, its `password` checked with @node-rs/argon2's
 *   asynchronous verify (OWASP cost, as the auth server) against a hash made at start-up.
 */
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hash, verify as verifyPassword } from '@node-rs/argon2';
import express from 'express';
import { listening, port, required } from './listening.js';

const jwks = (await (await fetch(required('JWKS_URI'))).json()) as { keys: Array<Record<string, string>> };
const first = jwks.keys[0];
if (first === undefined) throw new Error('the JWKS has no key');
const publicKey: KeyObject = createPublicKey({ key: first, format: 'jwk' });
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: 'floor' })).toString(
  'base64url',
);

/** The body as text: no parser library, as Tessera's own form reader. */
function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A JSON answer written directly, as Tessera's `sendJson` (no mime lookup, no ETag). */
function answer(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

const app = express();
app.disable('x-powered-by');
app.get('/api/me', (req, res) => {
  const [h, p, s] = (req.headers.authorization ?? '').slice(7).split('.');
  if (h === undefined || p === undefined || s === undefined) {
    res.status(401).end();
    return;
  }
  if (!verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))) {
    res.status(401).end();
    return;
  }
  answer(res, 200, JSON.parse(Buffer.from(p, 'base64url').toString()));
});
app.post('/token', async (req, res) => {
  const form = new URLSearchParams(await readText(req));
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: 'bench',
    client_id: 'bench',
    scope: form.get('scope'),
    iat: now,
    exp: now + 900,
    jti: randomUUID(),
  };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  answer(res, 200, { access_token: `${input}.${signature}`, token_type: 'Bearer', expires_in: 900 });
});
const storedHash = await hash('correct horse battery staple', {
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});
app.post('/login', async (req, res) => {
  const form = new URLSearchParams(await readText(req));
  const ok = await verifyPassword(storedHash, form.get('password') ?? '');
  answer(res, ok ? 200 : 400, { ok });
});
const server = app.listen(port(), '127.0.0.1', () => listening(server));
