import { errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { KeyManager } from './key-manager.js';

/**
 * Verifies a JWT signed with one of our keys (RS256, the key chosen by `kid` among the published
 * ones) with the given checks: its claims, or undefined when it is not valid.
 */
export async function verifyOwnJwt(
  keys: Pick<KeyManager, 'verificationKey'>,
  token: string,
  options: Omit<JWTVerifyOptions, 'algorithms'>,
): Promise<JWTPayload | undefined> {
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = header.kid === undefined ? undefined : keys.verificationKey(header.kid);
        if (key === undefined) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      { ...options, algorithms: ['RS256'] },
    );
    return payload;
  } catch (error) {
    if (error instanceof errors.JOSEError) return undefined;
    throw error;
  }
}
