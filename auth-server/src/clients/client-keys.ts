import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ClientJwk } from '../storage/storage.js';
import { UserInputError } from '../errors.js';

/** The algorithms a private_key_jwt client may sign its assertions with, one per key type. */
export const assertionSigningAlgorithms = ['RS256', 'ES256'] as const;

/** A client key set stays small: rotation needs the outgoing and the incoming key, not dozens. */
const maxKeys = 10;
/** RFC 7518 §3.3: RSA keys for RS256 are at least 2048 bits. */
const minRsaBits = 2048;
/** Private or symmetric members (RFC 7518 §6.2.2, §6.3.2, §6.4.1): a client registers public keys only. */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const kidPattern = /^[\x21-\x7e]{1,128}$/;

function text(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** One key of the set, reduced to its public members (an allow-list), or a UserInputError naming the problem. */
function toClientJwk(value: unknown, label: string): ClientJwk {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UserInputError(`${label} is not a JSON object`);
  const jwk = value as Record<string, unknown>;
  const found = privateMembers.filter((member) => member in jwk);
  if (found.length > 0)
    throw new UserInputError(
      `${label} has private or symmetric members (${found.join(', ')}): register only the public key`,
    );
  if (jwk.kid !== undefined && !(text(jwk.kid) && kidPattern.test(jwk.kid)))
    throw new UserInputError(`${label}: kid must be 1-128 printable ASCII characters`);
  if (jwk.use !== undefined && jwk.use !== 'sig')
    throw new UserInputError(`${label}: use must be "sig" (it signs client assertions)`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    throw new UserInputError(`${label}: key_ops must allow "verify"`);
  const kid = typeof jwk.kid === 'string' ? { kid: jwk.kid } : {};
  let key: ClientJwk;
  if (jwk.kty === 'RSA') {
    if (jwk.alg !== undefined && jwk.alg !== 'RS256')
      throw new UserInputError(`${label}: an RSA key must be for RS256, not ${JSON.stringify(jwk.alg)}`);
    if (!text(jwk.n) || !text(jwk.e)) throw new UserInputError(`${label}: an RSA key needs n and e`);
    key = { kty: 'RSA', alg: 'RS256', ...kid, n: jwk.n, e: jwk.e };
  } else if (jwk.kty === 'EC') {
    if (jwk.crv !== 'P-256' || (jwk.alg !== undefined && jwk.alg !== 'ES256'))
      throw new UserInputError(`${label}: an EC key must be P-256 for ES256`);
    if (!text(jwk.x) || !text(jwk.y)) throw new UserInputError(`${label}: an EC key needs x and y`);
    key = { kty: 'EC', alg: 'ES256', ...kid, crv: 'P-256', x: jwk.x, y: jwk.y };
  } else {
    throw new UserInputError(`${label}: kty must be RSA (RS256) or EC (ES256)`);
  }
  let publicKey: KeyObject;
  try {
    publicKey = toPublicKey(key);
  } catch (error) {
    throw new UserInputError(`${label} is not a valid ${key.kty} public key`, { cause: error });
  }
  const bits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (key.kty === 'RSA' && (bits === undefined || bits < minRsaBits))
    throw new UserInputError(`${label}: RSA keys must have at least ${minRsaBits} bits (RFC 7518 §3.3)`);
  return key;
}

/** The verification key for a registered JWK. */
export function toPublicKey(jwk: ClientJwk): KeyObject {
  return createPublicKey({ key: jwk, format: 'jwk' });
}

/**
 * Reads a client's JWK Set (RFC 7517 §5) for private_key_jwt: 1 to 10 public RS256 (RSA ≥ 2048
 * bits) or ES256 (P-256) keys; with more than one, each has its own `kid`, which assertions name
 * to select their key. Private members are refused, not dropped: a file that holds them was not
 * meant to leave the client. Unknown members (x5c, …) are dropped.
 */
export function toClientJwks(value: unknown): ClientJwk[] {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof value !== 'object' || value === null || !Array.isArray(keys))
    throw new UserInputError('the JWKS must be a JSON object with a "keys" array (RFC 7517 §5)');
  if (keys.length === 0 || keys.length > maxKeys)
    throw new UserInputError(`the JWKS must hold 1 to ${maxKeys} keys`);
  const jwks = keys.map((key, i) => toClientJwk(key, `key ${i + 1}`));
  if (jwks.length > 1) {
    const kids = jwks.map((key) => key.kid);
    if (kids.includes(undefined) || new Set(kids).size !== kids.length)
      throw new UserInputError('with several keys, each needs its own kid');
  }
  return jwks;
}
