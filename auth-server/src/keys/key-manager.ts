import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint } from 'jose';
import type { Clock, Logger } from '@tessera/shared';
import { StorageConflictError, type SigningKeyRecord, type SigningKeyStore } from '../storage/storage.js';
import type { KeyEncryptionKey } from './encryption.js';

const generateRsaKeyPair = promisify(generateKeyPair);

/** How long resource servers may cache the JWKS (`Cache-Control: max-age`). */
export const jwksMaxAgeSeconds = 300;

/** The states whose public key is published. */
const publishedStates: ReadonlySet<SigningKeyRecord['state']> = new Set(['pending', 'active', 'retiring']);

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

/** The JWKS document as served: bytes and a strong ETag, computed once per key-set change. */
export interface PublishedJwks {
  body: Buffer;
  etag: string;
}

export interface KeyManager {
  /** Loads the key set from the store, creating the first key if there is none. */
  load(): Promise<void>;
  /** The key that signs now; throws if none is loaded. */
  signingKey(): SigningKey;
  jwks(): PublishedJwks;
  /** The public key of a published key, to verify our own tokens (introspection, revocation). */
  verificationKey(kid: string): KeyObject | undefined;
  ready(): boolean;
}

/**
 * Publication is by allow-list (RFC 7517 §4, RFC 7518 §6.3.1): only kty, n, e and the
 * kid/alg/use we add ever leave the server.
 */
export function toPublicJwk(key: SigningKeyRecord): Record<string, string> {
  return { kty: 'RSA', n: key.publicJwk.n, e: key.publicJwk.e, kid: key.kid, alg: key.alg, use: 'sig' };
}

export function createJwksDocument(keys: readonly SigningKeyRecord[]): PublishedJwks {
  const body = Buffer.from(
    JSON.stringify({ keys: keys.filter((key) => publishedStates.has(key.state)).map(toPublicJwk) }),
  );
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  return { body, etag };
}

/** Generates an RSA key and its record (kid = RFC 7638 thumbprint), private part encrypted. */
export async function generateSigningKey(options: {
  modulusLength: number;
  kek: KeyEncryptionKey;
  state: SigningKeyRecord['state'];
  now: number;
}): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', { modulusLength: options.modulusLength });
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.n === undefined || jwk.e === undefined) throw new Error('RSA public key export lacks n/e');
  const publicJwk = { kty: 'RSA' as const, n: jwk.n, e: jwk.e };
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    kid,
    state: options.state,
    alg: 'RS256',
    publicJwk,
    privateKeyEncrypted: options.kek.encrypt(pkcs8, kid),
    createdAt: options.now,
    activatedAt: options.state === 'active' ? options.now : null,
    retiredAt: null,
  };
}

/**
 * Holds the signing key (a parsed KeyObject, decrypted once per load) and the published
 * JWKS in memory; requests never touch the store or re-parse a key.
 */
export function createKeyManager(deps: {
  keys: SigningKeyStore;
  kek: KeyEncryptionKey;
  clock: Clock;
  logger: Logger;
  modulusLength: number;
}): KeyManager {
  const { keys, kek, clock, logger } = deps;
  let current: { signing: SigningKey; jwks: PublishedJwks; published: Map<string, KeyObject> } | undefined;

  async function ensureActiveKey(): Promise<SigningKeyRecord[]> {
    const records = await keys.list();
    if (records.some((key) => key.state === 'active')) return records;
    const record = await generateSigningKey({
      modulusLength: deps.modulusLength,
      kek,
      state: 'active',
      now: clock.now(),
    });
    try {
      await keys.insert(record);
      logger.info({ kid: record.kid, event: 'key.created' }, 'created the first signing key');
    } catch (error) {
      // Another replica created one first: use theirs (the unique index allows one active key).
      if (!(error instanceof StorageConflictError)) throw error;
    }
    return keys.list();
  }

  return {
    async load() {
      const records = await ensureActiveKey();
      const active = records.find((key) => key.state === 'active');
      if (active?.privateKeyEncrypted == null) throw new Error('no active signing key with a private part');
      const privateKey = createPrivateKey({
        key: kek.decrypt(active.privateKeyEncrypted, active.kid),
        format: 'der',
        type: 'pkcs8',
      });
      const published = new Map(
        records
          .filter((key) => publishedStates.has(key.state))
          .map((key) => [key.kid, createPublicKey({ key: key.publicJwk, format: 'jwk' })]),
      );
      current = { signing: { kid: active.kid, privateKey }, jwks: createJwksDocument(records), published };
    },
    signingKey() {
      if (current === undefined) throw new Error('signing keys not loaded');
      return current.signing;
    },
    jwks() {
      if (current === undefined) throw new Error('signing keys not loaded');
      return current.jwks;
    },
    verificationKey: (kid) => current?.published.get(kid),
    ready: () => current !== undefined,
  };
}
