import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** The key that wraps private signing keys at rest, derived from KEY_ENCRYPTION_SECRET. */
export interface KeyEncryptionKey {
  encrypt(plaintext: Buffer, kid: string): string;
  /** Throws KeyDecryptionError if the secret is wrong or the record was altered. */
  decrypt(sealed: string, kid: string): Buffer;
}

export class KeyDecryptionError extends Error {
  override name = 'KeyDecryptionError';
}

const version = 'v1';

/**
 * AES-256-GCM under a key derived from the secret with HKDF-SHA256. The kid is the
 * additional authenticated data, so a ciphertext cannot be moved to another key's row.
 * Format: `v1.<iv>.<tag>.<ciphertext>`, base64url.
 */
export function createKeyEncryptionKey(secret: string): KeyEncryptionKey {
  const key = Buffer.from(hkdfSync('sha256', secret, 'tessera', 'signing-key-encryption/v1', 32));
  return {
    encrypt(plaintext, kid) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(kid));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return [version, iv, cipher.getAuthTag(), ciphertext]
        .map((part) => part.toString('base64url'))
        .join('.');
    },
    decrypt(sealed, kid) {
      const [tag, ivText, authTag, ciphertext] = sealed.split('.');
      if (tag !== version || ivText === undefined || authTag === undefined || ciphertext === undefined)
        throw new KeyDecryptionError(`signing key ${kid}: unrecognised encryption format`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'))
          .setAAD(Buffer.from(kid))
          .setAuthTag(Buffer.from(authTag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
      } catch (cause) {
        throw new KeyDecryptionError(
          `signing key ${kid} cannot be decrypted with this KEY_ENCRYPTION_SECRET`,
          {
            cause,
          },
        );
      }
    },
  };
}
