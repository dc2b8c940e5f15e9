import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppError, jwtBearerClientAssertionType, type Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import type { AssertionJtiStore, ClientRecord, ClientStore } from '../storage/storage.js';
import { assertionSigningAlgorithms, toPublicKey } from './client-keys.js';

/** The explicit type rfc7523bis gives client assertions (`typ` header). */
export const clientAssertionTyp = 'client-authentication+jwt';
/** Assertions live at most this long ahead of now (plus the clock tolerance). */
export const maxAssertionLifetimeSeconds = 300;
/** What a jti may be; longer ones are refused rather than stored. */
const maxJtiLength = 256;

/** The client ids a client may be registered with (checked before any store lookup). */
export const clientIdPattern = /^[A-Za-z0-9._~-]{1,64}$/;

/** How the client presented itself at an endpoint (RFC 6749 §2.3, RFC 8414 method names). */
export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'none'; clientId: string }
  /** RFC 7523 §2.2; `clientId` is the body's client_id when one was sent (RFC 7521 §4.2). */
  | { method: 'private_key_jwt'; assertion: string; clientId: string | undefined };

/** Client authentication, for every endpoint that authenticates clients (token, revoke, introspect). */
export interface ClientAuthenticator {
  /** The authenticated client, or `invalid_client` (401, RFC 6749 §5.2). */
  authenticate(credentials: ClientCredentials): Promise<ClientRecord>;
}

/**
 * Client secrets are 256 random bits, so a fast digest is enough (no dictionary to
 * attack); SHA-256 digests are compared in constant time.
 */
export function digestSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Compared against when the client is unknown, so timing does not reveal which client ids exist. */
const dummyDigest = digestSecret(randomBytes(32).toString('base64url'));

/**
 * The client assertion parameters of a form (RFC 7521 §4.2), or undefined when it has none.
 * Only one of the pair is `invalid_request`; another assertion type is an authentication method
 * we do not support (`invalid_client`).
 */
function readClientAssertion(params: ReadonlyMap<string, string>): ClientCredentials | undefined {
  const type = params.get('client_assertion_type');
  const assertion = params.get('client_assertion');
  if (type === undefined && assertion === undefined) return undefined;
  if (type === undefined || assertion === undefined)
    throw new AppError('invalid_request', 'client_assertion and client_assertion_type go together');
  if (type !== jwtBearerClientAssertionType)
    throw new AppError('invalid_client', 'unsupported client_assertion_type');
  return { method: 'private_key_jwt', assertion, clientId: params.get('client_id') };
}

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding. */
function decodeFormComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new AppError('invalid_client', 'malformed Basic credentials');
  }
}

/**
 * How the client authenticates: the Basic header (client_secret_basic), the body
 * (client_secret_post), a JWT assertion (private_key_jwt), or a bare client_id (a public
 * client). Using two methods at once is `invalid_request` (RFC 6749 §2.3).
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: ReadonlyMap<string, string>,
): ClientCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertion = readClientAssertion(params);
  if (assertion !== undefined && (authorization !== undefined || bodySecret !== undefined))
    throw new AppError('invalid_request', 'use only one client authentication method');
  if (assertion !== undefined) return assertion;
  if (authorization !== undefined) {
    const match = /^Basic +(\S+) *$/i.exec(authorization);
    if (match?.[1] === undefined || !base64Pattern.test(match[1]))
      throw new AppError('invalid_client', 'unsupported or malformed Authorization header');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new AppError('invalid_client', 'malformed Basic credentials');
    const clientId = decodeFormComponent(decoded.slice(0, colon));
    if (bodySecret !== undefined)
      throw new AppError('invalid_request', 'use only one client authentication method');
    if (bodyId !== undefined && bodyId !== clientId)
      throw new AppError('invalid_request', 'client_id does not match the Authorization header');
    return { method: 'client_secret_basic', clientId, secret: decodeFormComponent(decoded.slice(colon + 1)) };
  }
  if (bodyId === undefined) throw new AppError('invalid_client', 'client authentication required');
  return bodySecret === undefined
    ? { method: 'none', clientId: bodyId }
    : { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
}

const failed = (description = 'client authentication failed', cause?: unknown) =>
  new AppError('invalid_client', description, { cause });

/**
 * `typ` must be absent, the generic `JWT`, or rfc7523bis' explicit type: another explicit type
 * (an access token, a logout token, …) is a JWT made for something else (RFC 8725 §3.11).
 */
function isAssertionTyp(typ: string | undefined): boolean {
  if (typ === undefined) return true;
  const type = typ.toLowerCase().replace(/^application\//, '');
  return type === 'jwt' || type === clientAssertionTyp;
}

/** What a client sees when a claim check fails (after the signature verified: it holds the key). */
function describeClaimFailure(error: errors.JWTClaimValidationFailed | errors.JWTExpired): AppError {
  if (error instanceof errors.JWTExpired) return failed('client assertion expired', error);
  return failed(
    error.reason === 'missing'
      ? `client assertion has no ${error.claim} claim`
      : `client assertion ${error.claim} claim is not acceptable`,
    error,
  );
}

/**
 * private_key_jwt (RFC 7523 §2.2, §3) as draft-ietf-oauth-rfc7523bis tightens it:
 * - `iss` = `sub` = the client id; `aud` is our issuer identifier and nothing else: a string,
 *   not an array, not the token endpoint URL (the audience-injection attacks of 2025);
 * - `exp` required, at most 5 minutes ahead; `nbf`/`iat`, if present, not in the future (with
 *   the configured clock tolerance);
 * - the key is the client's registered key named by `kid`, or without `kid` one of its keys for
 *   the header's `alg`; the algorithm is the key's (RS256 or ES256), never `none` or HMAC;
 * - `jti` required and accepted once, across every replica, for as long as the assertion
 *   could be accepted at all.
 * Every failure is `invalid_client`. Until the signature verifies the description says nothing
 * (not whether the client or its key exists); after that it names the claim, which only the
 * key's holder learns. The assertion itself is never logged or stored (jtis are kept as digests).
 */
async function verifyAssertion(
  deps: {
    clients: ClientStore;
    clock: Clock;
    issuer: string;
    clockToleranceSeconds: number;
    jtis: AssertionJtiStore;
    audit?: AuditTrail | undefined;
  },
  assertion: string,
  bodyClientId: string | undefined,
): Promise<ClientRecord> {
  let header;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch (error) {
    throw failed('malformed client assertion', error);
  }
  const clientId = unverified.sub;
  if (typeof clientId !== 'string' || unverified.iss !== clientId || !clientIdPattern.test(clientId))
    throw failed('client assertion iss and sub must both be the client_id');
  if (bodyClientId !== undefined && bodyClientId !== clientId)
    throw failed('client_id does not match the client assertion');
  const client = await deps.clients.find(clientId);
  const alg = header.alg;
  if (
    client?.jwks == null ||
    !assertionSigningAlgorithms.includes(alg as (typeof assertionSigningAlgorithms)[number]) ||
    !isAssertionTyp(header.typ)
  )
    throw failed();
  // The key decides the algorithm (RFC 8725 §3.1): kid selects one key, whose alg must be the
  // header's; without kid only the client's keys for that alg are tried.
  const candidates = client.jwks.filter((jwk) =>
    header.kid === undefined ? jwk.alg === alg : jwk.kid === header.kid && jwk.alg === alg,
  );
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now / 1000);
  const tolerance = deps.clockToleranceSeconds;
  let payload: JWTPayload | undefined;
  for (const jwk of candidates) {
    try {
      ({ payload } = await jwtVerify(assertion, toPublicKey(jwk), {
        algorithms: [jwk.alg],
        issuer: clientId,
        subject: clientId,
        requiredClaims: ['exp', 'jti', 'aud'],
        clockTolerance: tolerance,
        currentDate: new Date(now),
      }));
      break;
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed) continue;
      if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired)
        throw describeClaimFailure(error);
      if (error instanceof errors.JOSEError) throw failed(undefined, error);
      throw error;
    }
  }
  if (payload === undefined) throw failed();
  // rfc7523bis: the issuer identifier, as the one audience value (a string), and nothing else.
  if (payload.aud !== deps.issuer)
    throw failed('client assertion aud must be exactly the issuer identifier, as a string');
  const exp = payload.exp!;
  if (exp > nowSeconds + maxAssertionLifetimeSeconds + tolerance)
    throw failed(`client assertion exp must be at most ${maxAssertionLifetimeSeconds} seconds ahead`);
  if (payload.iat !== undefined && payload.iat > nowSeconds + tolerance)
    throw failed('client assertion iat claim is not acceptable');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > maxJtiLength)
    throw failed('client assertion jti claim is not acceptable');
  // Kept until no replica could accept the assertion any more: exp plus the tolerance.
  const key = createHash('sha256').update(`${clientId}\0${jti}`, 'utf8').digest('hex');
  if (!(await deps.jtis.claim(key, (exp + tolerance) * 1000 + 1000, now))) {
    // A correctly signed assertion seen twice: a client retrying with the same one, or a copy
    // taken in transit (RFC 7523 §3 item 7). Worth an operator's look either way.
    deps.audit?.record('client.assertion_replayed', { client_id: clientId }, 'warn');
    throw failed('client assertion already used');
  }
  return client;
}

export function createClientAuthenticator(deps: {
  clients: ClientStore;
  clock: Clock;
  /** Our issuer identifier (RFC 8414 `issuer`): the only audience a client assertion may name. */
  issuer: string;
  clockToleranceSeconds: number;
  /** Where used assertion ids are kept: Redis when configured, else the database. */
  jtis: AssertionJtiStore;
  /** Records replayed assertions (`client.assertion_replayed`). */
  audit?: AuditTrail;
}): ClientAuthenticator {
  const { clients } = deps;
  return {
    async authenticate(credentials) {
      if (credentials.method === 'private_key_jwt')
        return verifyAssertion(deps, credentials.assertion, credentials.clientId);
      const client = clientIdPattern.test(credentials.clientId)
        ? await clients.find(credentials.clientId)
        : undefined;
      if (credentials.method === 'none') {
        // A public client identifies itself only; a confidential one must prove it (RFC 6749 §2.1).
        if (client === undefined || !client.isPublic) throw failed();
        return client;
      }
      // A key client has no secret: the dummy digest cannot match, and it is refused either way.
      const stored = client?.secretDigest == null ? dummyDigest : Buffer.from(client.secretDigest, 'hex');
      const matches = timingSafeEqual(digestSecret(credentials.secret), stored);
      if (client === undefined || client.isPublic || client.secretDigest === null || !matches) throw failed();
      return client;
    },
  };
}
