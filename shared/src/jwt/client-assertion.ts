import { KeyObject, createPrivateKey, randomUUID } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { systemClock, type Clock } from '../clock.js';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const jwtBearerClientAssertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ClientAssertionOptions {
  /** The client id the service is registered under (`iss` and `sub`). */
  clientId: string;
  /**
   * The authorization server's issuer identifier (its RFC 8414 `issuer`, e.g. the `ISSUER` it is
   * configured with): the assertion's one audience. Not its token endpoint URL.
   */
  issuer: string;
  /** The private key whose public half is registered for the client: a KeyObject or a private JWK. */
  privateKey: KeyObject | JWK;
  /** The registered key's `kid`; default: the JWK's own `kid`, if any. */
  kid?: string;
  /** Default: RS256 for an RSA key, ES256 for a P-256 key (the only two the server accepts). */
  alg?: 'RS256' | 'ES256';
  /** Seconds until the assertion expires: 1 to 300 (the server refuses more); default 60. */
  lifetimeSeconds?: number;
  clock?: Clock;
}

/** The form parameters that authenticate the client; spread them into a token, revoke or introspect request. */
export interface ClientAssertionParameters {
  client_assertion_type: typeof jwtBearerClientAssertionType;
  client_assertion: string;
}

function toKeyObject(key: KeyObject | JWK): KeyObject {
  if (key instanceof KeyObject) return key;
  try {
    return createPrivateKey({ key: key as JWK & { kty: string }, format: 'jwk' });
  } catch (error) {
    throw new TypeError('clientAssertion: privateKey is not a usable private JWK', { cause: error });
  }
}

function algorithmOf(key: KeyObject): 'RS256' | 'ES256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new TypeError('clientAssertion: privateKey must be an RSA (RS256) or P-256 EC (ES256) private key');
}

/**
 * Builds a private_key_jwt client assertion (RFC 7523 §2.2, as draft-ietf-oauth-rfc7523bis
 * profiles it): header `{alg, kid, typ: "client-authentication+jwt"}`, claims `iss` = `sub` =
 * the client id, `aud` = the issuer identifier (a string), `iat`, `exp` (60 s ahead by
 * default) and a fresh random `jti`. Each assertion is accepted once: build one per request.
 *
 * ```ts
 * const res = await fetch(`${issuer}/oauth/token`, {
 *   method: 'POST',
 *   body: new URLSearchParams({
 *     grant_type: 'client_credentials',
 *     ...(await clientAssertion({ clientId: 'billing', issuer, privateKey, kid: 'billing-2026' })),
 *   }),
 * });
 * ```
 */
export async function clientAssertion(options: ClientAssertionOptions): Promise<ClientAssertionParameters> {
  const { clientId, issuer, lifetimeSeconds = 60, clock = systemClock } = options;
  if (typeof clientId !== 'string' || clientId === '')
    throw new TypeError('clientAssertion: clientId is required');
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('clientAssertion: issuer is required');
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 1 || lifetimeSeconds > 300)
    throw new TypeError('clientAssertion: lifetimeSeconds must be an integer from 1 to 300');
  const key = toKeyObject(options.privateKey);
  if (key.type !== 'private') throw new TypeError('clientAssertion: privateKey must be a private key');
  const alg = options.alg ?? algorithmOf(key);
  if (alg !== algorithmOf(key))
    throw new TypeError(`clientAssertion: alg ${alg} does not fit this ${key.asymmetricKeyType ?? ''} key`);
  const kid = options.kid ?? (options.privateKey instanceof KeyObject ? undefined : options.privateKey.kid);
  const iat = Math.floor(clock.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg, typ: 'client-authentication+jwt', ...(kid === undefined ? {} : { kid }) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(issuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key);
  return { client_assertion_type: jwtBearerClientAssertionType, client_assertion: assertion };
}
