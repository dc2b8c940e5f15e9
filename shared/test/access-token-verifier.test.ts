import { newKeyPairSync } from '../src/crypto/key-pair.js';
import { sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import {
  AppError,
  createAccessTokenVerifier,
  createFixedClock,
  createJwksKeyProvider,
  createLogger,
  maxAccessTokenLength,
  type JwksKeyProvider,
} from '../src/index.js';

/**
 * Differential test: the strategy's own verifier against jose's `jwtVerify` with the same
 * options, on a corpus of valid, tampered and malformed tokens. jose is the reference for
 * everything jose checks; on top, the verifier applies a few rules jose leaves to the
 * application, restated here independently of the code under test (see `extraRules`).
 */

const issuer = 'https://issuer.example';
const audience = 'tessera-api';
const toleranceSeconds = 30;
const clock = createFixedClock(Date.UTC(2026, 0, 1, 12));
const now = Math.floor(clock.now() / 1000);

const signing = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const foreign = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
// RFC 7518 §3.3 forbids RS256 keys under 2048 bits: published under its own kid, it must not verify.
const weak = newKeyPairSync({ type: 'rsa', modulusLength: 1024 });
const published: Record<string, KeyObject> = { k1: signing.publicKey, weak: weak.publicKey };

let keys: JwksKeyProvider;
let verifyToken: ReturnType<typeof createAccessTokenVerifier>;

beforeAll(async () => {
  const jwks = {
    keys: Object.entries(published).map(([kid, key]) => ({ ...key.export({ format: 'jwk' }), kid })),
  };
  keys = createJwksKeyProvider({
    jwksUri: 'http://auth.invalid/.well-known/jwks.json',
    logger: createLogger({ name: 'test', level: 'silent' }),
    clock,
    fetch: () => Promise.resolve(Response.json(jwks)),
  });
  await keys.start();
  verifyToken = createAccessTokenVerifier({
    keys,
    issuer,
    audience,
    clock,
    clockToleranceSeconds: toleranceSeconds,
  });
});
afterAll(() => keys.stop());

type Outcome = { accepted: true; claims: Record<string, unknown> } | { accepted: false };

/** The rules the verifier adds to jose's, written out here on their own. */
function extraRules(token: string, claims: Record<string, unknown>): boolean {
  // RFC 7515 §2: base64url without padding; jose's decoder would also take "=" padding.
  if (token.includes('=') || token.length > maxAccessTokenLength) return false;
  const header = decodeProtectedHeader(token) as Record<string, unknown>;
  // RFC 7515 §4.1.11: no extension is understood (jose understands b64).
  if ('crit' in header) return false;
  // RFC 8725 §3.10: no key material or key URLs in the header at all (jose ignores them).
  if (['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'].some((name) => name in header)) return false;
  // RFC 9068 §2.2: these claims are non-empty strings; scope, when present, a string.
  const nonEmpty = (value: unknown) => typeof value === 'string' && value !== '';
  if (!nonEmpty(claims.sub) || !nonEmpty(claims.client_id) || !nonEmpty(claims.jti)) return false;
  return claims.scope === undefined || typeof claims.scope === 'string';
}

async function reference(token: string): Promise<Outcome> {
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = typeof header.kid === 'string' ? published[header.kid] : undefined;
        if (key === undefined) throw new Error('unknown kid');
        return key;
      },
      {
        algorithms: ['RS256'],
        typ: 'at+jwt',
        issuer,
        audience,
        clockTolerance: toleranceSeconds,
        currentDate: new Date(clock.now()),
        requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
        // Makes jose refuse an iat in the future (beyond the leeway); no age limit otherwise.
        maxTokenAge: Number.MAX_SAFE_INTEGER,
      },
    );
    const claims = payload as Record<string, unknown>;
    return extraRules(token, claims) ? { accepted: true, claims } : { accepted: false };
  } catch {
    return { accepted: false };
  }
}

async function ours(token: string): Promise<Outcome> {
  const result = await verifyToken(token);
  if (result instanceof AppError) {
    // Every refusal is a 401 invalid_token: the key set is loaded, so never a 503.
    expect(result.code).toBe('invalid_token');
    return { accepted: false };
  }
  return { accepted: true, claims: result.claims };
}

// --- The corpus.

const b64 = (bytes: Buffer) => bytes.toString('base64url');

/** How a header or payload object becomes bytes: mostly plain JSON, sometimes not quite. */
function encode(value: Record<string, unknown>, how: string): Buffer {
  const json = JSON.stringify(value);
  switch (how) {
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    case 'bad-utf8':
      // An invalid byte inside a string member: a lossy decoder would accept the JSON.
      return Buffer.concat([Buffer.from(json.slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')]);
    case 'array':
      return Buffer.from(JSON.stringify([value]));
    case 'not-json':
      return Buffer.from(json.slice(1));
    case 'empty':
      return Buffer.alloc(0);
    default:
      return Buffer.from(json);
  }
}

/** Mostly the valid value, sometimes one of the others: most built tokens have zero to two defects. */
const mostly = <T>(valid: T, ...others: T[]) =>
  fc.oneof(
    { arbitrary: fc.constant(valid), weight: 14 },
    { arbitrary: fc.constantFrom(...others), weight: 1 },
  );
const time = (valid: number) =>
  mostly<unknown>(
    valid,
    now - toleranceSeconds,
    now - toleranceSeconds - 1,
    now + toleranceSeconds,
    now + toleranceSeconds + 1,
    0,
    1e300,
    now + 0.5,
    String(valid),
    null,
    [valid],
    undefined,
  );
const header = fc.record({
  alg: mostly<unknown>('RS256', 'none', 'HS256', 'RS512', 'PS256', 'rs256', undefined, 1),
  typ: mostly<unknown>(
    'at+jwt',
    'AT+JWT',
    'application/at+jwt',
    'Application/At+JWT',
    'JWT',
    'at+jwt ',
    'text/at+jwt',
    undefined,
    1,
  ),
  kid: mostly<unknown>('k1', 'weak', 'unknown', '', undefined, 1),
  extra: mostly<Record<string, unknown>>(
    {},
    { cty: 'JWT' },
    { crit: ['b64'], b64: true },
    { crit: ['urn:x'], 'urn:x': 1 },
    { jku: 'https://attacker.example/jwks' },
    { x5t: 'abc' },
    { jwk: { kty: 'RSA' } },
  ),
});
const claims = fc.record({
  iss: mostly<unknown>(issuer, `${issuer}/`, 'https://evil.example', undefined, 1),
  aud: mostly<unknown>(
    audience,
    [audience],
    ['other', audience],
    ['other'],
    'other',
    `${audience} `,
    [],
    [1, audience],
    undefined,
  ),
  sub: mostly<unknown>('alice', '', undefined, 7),
  client_id: mostly<unknown>('web', '', undefined, ['web']),
  jti: mostly<unknown>('j-1', '', undefined, 3),
  scope: mostly<unknown>('notes:read', 'notes:read notes:write', '', undefined, ['notes:read']),
  exp: time(now + 600),
  iat: time(now - 5),
  nbf: mostly<unknown>(undefined, now - 5, now + toleranceSeconds, now + toleranceSeconds + 1, '0', null),
});
const encoding = mostly('json', 'bom', 'bad-utf8', 'array', 'not-json', 'empty');

/** A token built from arbitrary parts and signed with RS256 by the right key, another key, or not at all. */
const built = fc
  .record({
    header,
    claims,
    headerEncoding: encoding,
    payloadEncoding: encoding,
    signer: mostly('right', 'foreign', 'weak', 'none'),
    // Signed as is: a character no base64url decoder should take, or one that makes the length 4n + 1.
    suffix: mostly('', 'A', 'AAAAA', '=', '+', '/'),
  })
  .map(({ header: h, claims: c, headerEncoding, payloadEncoding, signer, suffix }) => {
    const { extra, ...members } = h;
    const signingInput = `${b64(encode({ ...members, ...extra }, headerEncoding))}.${b64(encode(c, payloadEncoding))}${suffix}`;
    const privateKey = { right: signing.privateKey, foreign: foreign.privateKey, weak: weak.privateKey }[
      signer as 'right'
    ];
    const signature =
      signer === 'none' ? Buffer.alloc(0) : sign('sha256', Buffer.from(signingInput), privateKey);
    return `${signingInput}.${b64(signature)}`;
  });

/** A token changed after signing: one character, padding, another alphabet, cut or extended. */
const tampered = fc
  .tuple(built, fc.nat(), fc.constantFrom('A', 'b', '0', '-', '_', '+', '/', '.', '='), fc.nat(6))
  .map(([token, at, char, how]) => {
    const index = at % token.length;
    switch (how) {
      case 0:
        return `${token.slice(0, index)}${char}${token.slice(index + 1)}`;
      case 1:
        return `${token}==`;
      case 2:
        return `${token}=`;
      case 3:
        return token.slice(0, -1);
      case 4:
        return `${token}.${token.split('.')[1] ?? ''}`;
      case 5:
        return token.replaceAll('-', '+').replaceAll('_', '/');
      default:
        return `${token.slice(0, index)}${token.slice(index)}A`;
    }
  });

/** Strings that are hardly tokens at all. */
const malformed = fc.oneof(
  fc.string({
    unit: fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/='.split(''),
    ),
    maxLength: 400,
  }),
  fc.string(),
  fc.constantFrom(
    '',
    '..',
    'a.b.c',
    'e30.e30.',
    'e30.e30.e30',
    `${'a'.repeat(maxAccessTokenLength)}.e30.e30`,
  ),
);

describe('the access-token verifier and jose agree', () => {
  it('on every valid, tampered and malformed token', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(built, built, tampered, malformed), async (token) => {
        const [mine, theirs] = await Promise.all([ours(token), reference(token)]);
        expect(mine).toEqual(theirs);
        if (mine.accepted) accepted++;
        else refused++;
      }),
      { numRuns: 600 },
    );
    // The corpus must exercise both outcomes, or the agreement says nothing.
    expect(accepted).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(300);
  }, 120_000);

  /** A token signed by the right key over `claims` and any header, segments changed before signing. */
  function signed(
    claims: Record<string, unknown>,
    options: { header?: Record<string, unknown>; headerSuffix?: string; payloadSuffix?: string } = {},
  ): string {
    const header = options.header ?? { alg: 'RS256', typ: 'at+jwt', kid: 'k1' };
    const body = {
      iss: issuer,
      aud: audience,
      sub: 'a',
      client_id: 'c',
      jti: 'j',
      iat: now,
      exp: now + 60,
      ...claims,
    };
    const signingInput = `${b64(Buffer.from(JSON.stringify(header)))}${options.headerSuffix ?? ''}.${b64(
      Buffer.from(JSON.stringify(body)),
    )}${options.payloadSuffix ?? ''}`;
    return `${signingInput}.${b64(sign('sha256', Buffer.from(signingInput), signing.privateKey))}`;
  }

  it('on a valid token at the edges of its time window', async () => {
    const edges = [
      { exp: now - toleranceSeconds },
      { exp: now - toleranceSeconds + 1 },
      { nbf: now + toleranceSeconds },
      { nbf: now + toleranceSeconds + 1 },
      { iat: now + toleranceSeconds },
      { iat: now + toleranceSeconds + 1 },
    ];
    const outcomes = [];
    for (const edge of edges) {
      const token = signed(edge);
      const mine = await ours(token);
      expect(mine).toEqual(await reference(token));
      outcomes.push(mine.accepted);
    }
    expect(outcomes).toEqual([false, true, true, false, true, false]);
  });

  it('on segments a lenient base64 decoder would read, signed as they are', async () => {
    // Payloads of every length mod 4: to a lenient decoder (Node's Buffer) each suffix, signed
    // over, leaves some of them decoding to the very same bytes.
    const cases: Array<[string, Parameters<typeof signed>[1], Record<string, unknown>]> = [];
    for (const pad of ['=', '==', '+', '/', 'A']) {
      for (const claims of [{}, { jti: 'jj' }, { jti: 'jjj' }, { jti: 'jjjj' }]) {
        cases.push([pad, { payloadSuffix: pad }, claims], [pad, { headerSuffix: pad }, claims]);
      }
    }
    for (const [, options, claims] of cases) {
      const token = signed(claims, options);
      const mine = await ours(token);
      expect({ token, ...mine }).toEqual({ token, ...(await reference(token)) });
      expect(mine.accepted).toBe(false);
    }
    // The control: the same tokens without the suffix are accepted.
    expect((await ours(signed({ jti: 'jj' }))).accepted).toBe(true);
  });
});
