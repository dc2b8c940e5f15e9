import { newKeyPairSync } from '@tessera/shared';
import {
  createHmac,
  createPublicKey,
  createSign,
  randomBytes,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { audience, issuer, password, readIssuerKey, startSystem, startTrap, type System } from './system.js';

/**
 * Our own attack suite against the real services (both as processes, over loopback), organised
 * by the threat and the RFC section that names it (RFC 8725 JWT BCP, RFC 9068, RFC 6750,
 * RFC 9700). Every case asserts the status, the error code and the WWW-Authenticate challenge.
 */

let system: System;
let issuerKey: { kid: string; privateKey: KeyObject };
let publicJwk: Record<string, string>;
let realToken: string;
let trap: Awaited<ReturnType<typeof startTrap>>;
const attacker = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const now = () => Math.floor(Date.now() / 1000);

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: issuer,
    aud: audience,
    sub: 'alice-id',
    client_id: 'web',
    jti: randomUUID(),
    scope: 'notes:read',
    iat: now(),
    exp: now() + 600,
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base;
}

/** A JWS built by hand, so any header is possible; RS256 with `key`, HMAC with `secret`, or no signature. */
function jws(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | string,
  signer: { rsa: KeyObject } | { hmac: Buffer | string; bits: 256 | 384 | 512 } | 'none' = {
    rsa: issuerKey.privateKey,
  },
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (signer === 'none') return `${input}.`;
  if ('rsa' in signer)
    return `${input}.${createSign('RSA-SHA256').update(input).sign(signer.rsa).toString('base64url')}`;
  return `${input}.${createHmac(`sha${signer.bits}`, signer.hmac).update(input).digest('base64url')}`;
}
/** Signed with the real issuer key, header `{alg: RS256, typ: at+jwt, kid}` plus `extra`. */
const issued = (overrides: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  jws({ alg: 'RS256', typ: 'at+jwt', kid: issuerKey.kid, ...extra }, claims(overrides));

async function expectRejected(res: Response, description?: string): Promise<void> {
  const body = (await res.json()) as { error: string; error_description: string };
  expect({ status: res.status, error: body.error }).toEqual({ status: 401, error: 'invalid_token' });
  const challenge = res.headers.get('www-authenticate') ?? '';
  // RFC 9728 §5.1: the challenge also points at the resource's metadata.
  expect(challenge).toMatch(
    /^Bearer realm="tessera", error="invalid_token", error_description="[^"]*", resource_metadata="[^"]*"$/,
  );
  expect(challenge).toContain(`resource_metadata="${audience}/.well-known/oauth-protected-resource"`);
  if (description !== undefined) {
    expect(body.error_description).toBe(description);
    expect(challenge).toContain(`error_description="${description}"`);
  }
}

beforeAll(async () => {
  trap = await startTrap();
  system = await startSystem();
  issuerKey = await readIssuerKey(system.authEnv);
  const jwks = (await (await fetch(`${system.auth.url}/.well-known/jwks.json`)).json()) as {
    keys: Record<string, string>[];
  };
  publicJwk = jwks.keys.find((key) => key.kid === issuerKey.kid) ?? {};
  const res = await system.tokenRequest({ grant_type: 'password', username: 'alice', password });
  realToken = ((await res.json()) as { access_token: string }).access_token;
}, 60_000);

afterAll(async () => {
  await system.stop();
  await trap.close();
  // Nothing in the whole suite ever contacted the attacker's server.
  expect(trap.hits()).toBe(0);
});

describe('controls: the harness tokens are otherwise valid', () => {
  test('a token from the auth server is accepted', async () => {
    expect((await system.callApi(realToken)).status).toBe(200);
  });
  test('a token the suite signs with the issuer key is accepted (so each rejection below is about one defect)', async () => {
    expect((await system.callApi(issued())).status).toBe(200);
  });
});

describe('RFC 8725 §2.1, §3.1 — alg "none" (unsecured JWS)', () => {
  test.each(['none', 'None', 'NONE', 'nOnE'])(
    'alg %s, with and without a signature part, is refused',
    async (alg) => {
      const header = { alg, typ: 'at+jwt', kid: issuerKey.kid };
      await expectRejected(await system.callApi(jws(header, claims(), 'none')), 'algorithm not accepted');
      await expectRejected(await system.callApi(jws(header, claims())), 'algorithm not accepted');
    },
  );
});

describe('RFC 8725 §2.1, §3.1 — algorithm confusion: HMAC keyed with the RSA public key', () => {
  /** The public key as an attacker would find it: PEM, and the JWK as published. */
  const publicKeyTexts = () => [
    createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString(),
    JSON.stringify(publicJwk),
  ];
  test.each([256, 384, 512] as const)('HS%i with the public key as the secret is refused', async (bits) => {
    for (const secret of publicKeyTexts()) {
      const token = jws({ alg: `HS${bits}`, typ: 'at+jwt', kid: issuerKey.kid }, claims(), {
        hmac: secret,
        bits,
      });
      await expectRejected(await system.callApi(token), 'algorithm not accepted');
    }
  });
});

describe('RFC 8725 §3.10, RFC 7515 §4.1.2–4.1.6 — key material or key URLs in the header', () => {
  test('an embedded jwk (the attacker’s own key) is refused', async () => {
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    const token = jws({ alg: 'RS256', typ: 'at+jwt', kid: issuerKey.kid, jwk }, claims(), {
      rsa: attacker.privateKey,
    });
    await expectRejected(await system.callApi(token), 'embedded key references are not accepted');
  });
  test.each(['jku', 'x5u'])('a %s URL is refused and never fetched', async (name) => {
    const token = jws(
      { alg: 'RS256', typ: 'at+jwt', kid: 'attacker', [name]: `${trap.url}/jwks.json` },
      claims(),
      { rsa: attacker.privateKey },
    );
    await expectRejected(await system.callApi(token), 'embedded key references are not accepted');
    expect(trap.hits()).toBe(0);
  });
  test('an x5c chain is refused', async () => {
    const token = issued({}, { x5c: [randomBytes(300).toString('base64')] });
    await expectRejected(await system.callApi(token), 'embedded key references are not accepted');
  });
});

describe('RFC 7515 §4.1.4, RFC 8725 §3.10 — hostile kid values', () => {
  test.each([
    ['a path', '../../../../etc/passwd'],
    ['SQL', "' OR '1'='1' --"],
    ['a URL', 'TRAP'],
    ['a NUL and newline', 'a\u0000b\nc'],
    ['2 KB of text', 'k'.repeat(2048)],
  ])('kid with %s is an unknown key: refused, nothing fetched from it', async (_what, kid) => {
    const value = kid === 'TRAP' ? `${trap.url}/key` : kid;
    await expectRejected(await system.callApi(issued({}, { kid: value })), 'unknown key');
    expect(trap.hits()).toBe(0);
  });
  test('a kid that is not a string is refused', async () => {
    await expectRejected(await system.callApi(issued({}, { kid: 42 })), 'key id missing');
  });
});

describe('RFC 8725 §3.1 — a foreign key presented under the issuer’s kid', () => {
  test('signed by another RSA key with the known kid: signature invalid', async () => {
    const token = jws({ alg: 'RS256', typ: 'at+jwt', kid: issuerKey.kid }, claims(), {
      rsa: attacker.privateKey,
    });
    await expectRejected(await system.callApi(token), 'signature invalid');
  });
});

describe('RFC 7515 §5.2 — integrity: tampering with a real token', () => {
  test('a changed payload (another sub and scope) under the original signature', async () => {
    const [header, payload, signature] = realToken.split('.') as [string, string, string];
    const forged = {
      ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object),
      sub: 'admin',
      scope: 'notes:write admin',
    };
    await expectRejected(await system.callApi(`${header}.${b64(forged)}.${signature}`), 'signature invalid');
  });
  test('the signature stripped', async () => {
    const [header, payload] = realToken.split('.') as [string, string, string];
    await expectRejected(await system.callApi(`${header}.${payload}.`));
  });
  test.each([
    ['malformed base64', 'eyJ+/+/.eyJ+.c2ln'],
    ['a header that is not JSON', `${b64('not json')}.${b64(claims())}.c2ln`],
    ['two parts', `${b64({ alg: 'RS256' })}.${b64(claims())}`],
  ])('%s', async (_what, token) => {
    await expectRejected(await system.callApi(token), 'token malformed');
  });
});

describe('RFC 7519 §4.1.4–4.1.6, RFC 8725 §3.10 — time', () => {
  test.each([
    ['expired (beyond the 30 s leeway)', { iat: now() - 900, exp: now() - 60 }, 'token expired'],
    ['not yet valid (nbf in the future)', { nbf: now() + 300 }, 'token not yet valid'],
    ['issued in the future', { iat: now() + 300, exp: now() + 900 }, 'token issued in the future'],
  ])('a token %s is refused', async (_what, overrides, description) => {
    await expectRejected(await system.callApi(issued(overrides)), description);
  });
});

describe('RFC 9068 §4, RFC 8725 §3.8–3.9 — issuer and audience', () => {
  test.each([
    ['a wrong iss', { iss: 'http://evil.example' }, 'issuer not accepted'],
    ['the issuer with a trailing slash', { iss: `${issuer}/` }, 'issuer not accepted'],
    ['a wrong aud', { aud: 'other-api' }, 'audience not accepted'],
    ['an aud list without ours', { aud: ['a', 'b'] }, 'audience not accepted'],
  ])('%s is refused', async (_what, overrides, description) => {
    await expectRejected(await system.callApi(issued(overrides)), description);
  });
});

describe('RFC 9068 §2.2 — required claims', () => {
  test.each([
    ['exp', 'token has no expiry'],
    ['iat', 'token has no issue time'],
    ['sub', 'token has no subject'],
    ['client_id', 'token has no client_id'],
    ['jti', 'token has no jti'],
  ])('a token without %s is refused', async (claim, description) => {
    await expectRejected(await system.callApi(issued({ [claim]: undefined })), description);
  });
});

describe('RFC 7515 §4.1.11 — critical header parameters', () => {
  test('an unknown crit extension is refused', async () => {
    const token = issued({}, { crit: ['urn:example:must-understand'], 'urn:example:must-understand': true });
    await expectRejected(await system.callApi(token), 'critical header parameter not understood');
  });
});

describe('RFC 8725 §3.11, RFC 9068 §4 — explicit typing: other tokens used as access tokens', () => {
  test('an ID-token-shaped JWT (typ JWT, nonce, aud = client) signed by the issuer', async () => {
    const idToken = jws(
      { alg: 'RS256', typ: 'JWT', kid: issuerKey.kid },
      claims({ aud: 'web', nonce: 'n-0S6_WzA2Mj', auth_time: now() }),
    );
    await expectRejected(await system.callApi(idToken), 'token type not accepted');
  });
  test('a JWT without typ', async () => {
    await expectRejected(await system.callApi(issued({}, { typ: undefined })), 'token type not accepted');
  });
  test('an opaque refresh-token-like string (256 random bits)', async () => {
    await expectRejected(await system.callApi(randomBytes(32).toString('base64url')), 'token malformed');
  });
});

describe('RFC 6750 §2.3, RFC 9700 §2.4 — tokens outside the Authorization header', () => {
  test('a token only in the query string counts as no token: 401 with a bare challenge', async () => {
    const res = await fetch(`${system.resource.url}/api/me?access_token=${realToken}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="tessera", resource_metadata="${audience}/.well-known/oauth-protected-resource"`,
    );
  });
  test('a token in the header and the query string at once: 400 invalid_request with its RFC 6750 §3 challenge', async () => {
    const res = await fetch(`${system.resource.url}/api/me?access_token=${realToken}`, {
      headers: { Authorization: `Bearer ${realToken}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tessera", error="invalid_request", /);
  });
});

describe('oversized tokens', () => {
  test('a 9 KB token is refused as invalid_token; a 100 KB header gets 431', async () => {
    await expectRejected(await system.callApi(`${realToken}${'A'.repeat(9000)}`), 'token too large');
    const res = await fetch(`${system.resource.url}/api/me`, {
      headers: { Authorization: `Bearer ${'A'.repeat(100_000)}` },
    });
    expect(res.status).toBe(431);
  });
});
