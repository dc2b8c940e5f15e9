import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { newKeyPair, type Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import { StorageConflictError, type SigningKeyRecord, type SigningKeyStore } from '../storage/storage.js';
import { createKeyEncryptionKey, type KeyEncryptionKey } from './encryption.js';
import { dueTransitions, planRotation, type KeyDurations, type KeyTransition } from './lifecycle.js';

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
  /** The lifecycle durations this manager works with (the JWKS route derives its caching from them). */
  readonly durations: KeyDurations;
  /**
   * Applies the transitions due now (the first start creates the first keys), then loads the key
   * set from the store and swaps it in. Rejects if the set cannot be loaded (a wrong
   * KEY_ENCRYPTION_SECRET: KeyDecryptionError); the previous set then stays in use.
   */
  load(): Promise<void>;
  /** Runs load() every reload interval (an unref'd timer); failures are logged and retried. */
  start(): void;
  stop(): void;
  /** Manual rotation (`keys rotate`), see planRotation. Throws KeyLifecycleError if refused or raced. */
  rotate(options: { force: boolean }): Promise<{ activated: string; retiring: string | undefined }>;
  /**
   * Unpublishes `kid` now and destroys its private part; if it was signing, the pending key
   * (already published) signs from now on and a fresh key becomes pending (a fresh key signs only
   * when none was pending). Throws KeyLifecycleError if no published key has that kid.
   */
  compromise(
    kid: string,
  ): Promise<{ previousState: 'active'; activated: string } | { previousState: 'pending' | 'retiring' }>;
  /**
   * Re-encrypts every stored private key, now under `oldSecret`, with this manager's
   * (the new) secret, in one transaction. Resolves how many keys were re-encrypted.
   */
  reencryptFrom(oldSecret: string): Promise<number>;
  /** The key that signs now; throws if none is loaded. */
  signingKey(): SigningKey;
  jwks(): PublishedJwks;
  /** The public key of a published key, to verify our own tokens (introspection, revocation). */
  verificationKey(kid: string): KeyObject | undefined;
  ready(): boolean;
}

/** A lifecycle command that cannot be carried out as asked; the message says why and what to do. */
export class KeyLifecycleError extends Error {
  override name = 'KeyLifecycleError';
}

/** A stored key record that is not what it claims to be (its public key does not hash to its kid). */
export class KeyIntegrityError extends Error {
  override name = 'KeyIntegrityError';
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
  const { publicKey, privateKey } = await newKeyPair({ type: 'rsa', modulusLength: options.modulusLength });
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.n === undefined || jwk.e === undefined) throw new Error('RSA public key export lacks n/e');
  const publicJwk = { kty: 'RSA' as const, n: jwk.n, e: jwk.e };
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  let privateKeyEncrypted: string;
  try {
    privateKeyEncrypted = options.kek.encrypt(pkcs8, kid);
  } finally {
    // The plaintext key leaves no copy in our buffers (the KeyObject itself is native memory).
    pkcs8.fill(0);
  }
  return {
    kid,
    state: options.state,
    alg: 'RS256',
    publicJwk,
    privateKeyEncrypted,
    createdAt: options.now,
    activatedAt: options.state === 'active' ? options.now : null,
    retiringAt: null,
    retiredAt: null,
    compromisedAt: null,
  };
}

/**
 * The kid is the RFC 7638 thumbprint of the public key; a record whose public key does not hash to
 * its kid was altered in the store (the kid is also the private part's encryption AAD, so together
 * they bind the row's public key, kid and private key). Refusing it keeps a swapped public key
 * from ever being published or used.
 */
async function checkThumbprints(records: readonly SigningKeyRecord[]): Promise<void> {
  for (const key of records) {
    if (!publishedStates.has(key.state)) continue;
    const thumbprint = await calculateJwkThumbprint(
      { kty: 'RSA', n: key.publicJwk.n, e: key.publicJwk.e },
      'sha256',
    );
    if (thumbprint !== key.kid)
      throw new KeyIntegrityError(
        `signing key ${key.kid}: its public key does not match its kid (the stored record was altered)`,
      );
  }
}

/** Decrypts a private key into a KeyObject, zeroing the decrypted bytes afterwards. */
function openPrivateKey(kek: KeyEncryptionKey, sealed: string, kid: string): KeyObject {
  const pkcs8 = kek.decrypt(sealed, kid);
  try {
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Holds the signing key (a parsed KeyObject, decrypted once per key change) and the published
 * JWKS in memory; requests never touch the store or re-parse a key. Every reload swaps both in
 * one assignment, so a request sees either the old set or the new one, never a mix.
 */
export function createKeyManager(deps: {
  keys: SigningKeyStore;
  kek: KeyEncryptionKey;
  clock: Clock;
  audit: AuditTrail;
  modulusLength: number;
  durations: KeyDurations;
}): KeyManager {
  const { keys, kek, clock, audit, durations } = deps;
  let current: { signing: SigningKey; jwks: PublishedJwks; published: Map<string, KeyObject> } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let loading: Promise<void> | undefined;

  const generate = (state: 'pending' | 'active') =>
    generateSigningKey({ modulusLength: deps.modulusLength, kek, state, now: clock.now() });

  /** Applies one transition; false if another replica changed the keys first (then the next load sees theirs). */
  async function apply(transition: KeyTransition): Promise<boolean> {
    const now = clock.now();
    switch (transition.kind) {
      case 'create-active':
      case 'create-pending':
        // One insert: the unique indexes let only one replica's key in.
        return keys.insert(await generate(transition.kind === 'create-active' ? 'active' : 'pending')).then(
          () => true,
          (error: unknown) => {
            if (error instanceof StorageConflictError) return false;
            throw error;
          },
        );
      case 'rotate':
        return keys.rotate({
          now,
          demote: transition.demote,
          promote: transition.promote,
          insert: [await generate('pending')],
        });
      case 'retire':
        return keys.retire(transition.kid, now);
    }
  }

  /**
   * Decrypts one stored private key before anything is written, so a wrong KEY_ENCRYPTION_SECRET
   * stops here (KeyDecryptionError) instead of adding keys no other replica could use.
   */
  function checkSecret(records: readonly SigningKeyRecord[]): void {
    const sample =
      records.find((key) => key.state === 'active' && key.privateKeyEncrypted !== null) ??
      records.find((key) => key.privateKeyEncrypted !== null);
    if (sample?.privateKeyEncrypted != null) kek.decrypt(sample.privateKeyEncrypted, sample.kid).fill(0);
  }

  async function applyDue(): Promise<void> {
    const records = await keys.list();
    checkSecret(records);
    for (const transition of dueTransitions(records, clock.now(), durations)) {
      if (await apply(transition)) audit.record(`key.${transition.kind}`, { ...transition });
      // Lost to another replica: what it did is in the store, and the next pass starts from that.
      else return;
    }
  }

  async function reload(): Promise<void> {
    const records = await keys.list();
    await checkThumbprints(records);
    const active = records.find((key) => key.state === 'active');
    if (active?.privateKeyEncrypted == null) throw new Error('no active signing key with a private part');
    // Decrypt only when the signing key changed.
    const signing =
      current?.signing.kid === active.kid
        ? current.signing
        : { kid: active.kid, privateKey: openPrivateKey(kek, active.privateKeyEncrypted, active.kid) };
    if (current !== undefined && current.signing.kid !== signing.kid)
      audit.record('key.reloaded', { kid: signing.kid });
    const published = new Map(
      records
        .filter((key) => publishedStates.has(key.state))
        .map((key) => [key.kid, createPublicKey({ key: key.publicJwk, format: 'jwk' })]),
    );
    current = { signing, jwks: createJwksDocument(records), published };
  }

  function load(): Promise<void> {
    // One pass at a time: a slow pass (RSA generation) is not overlapped by the next tick.
    loading ??= applyDue()
      .then(reload)
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }

  function schedule(): void {
    timer = setTimeout(() => {
      load().then(schedule, (error: unknown) => {
        // Keeping the current set: signing goes on with it.
        audit.record('key.reload_failed', { err: error }, 'error');
        schedule();
      });
    }, durations.reloadIntervalSeconds * 1000);
    // The key timer never keeps the process alive on its own (shutdown closes the server and the store).
    timer.unref();
  }

  return {
    durations,
    load,
    start() {
      if (timer === undefined) schedule();
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
    async rotate({ force }) {
      const records = await keys.list();
      checkSecret(records);
      const plan = planRotation(records, clock.now(), durations, force);
      if (!plan.ok) throw new KeyLifecycleError(plan.reason);
      const fresh = plan.promote === undefined ? await generate('active') : undefined;
      const next = await generate('pending');
      const done = await keys.rotate({
        now: clock.now(),
        demote: plan.demote,
        promote: plan.promote,
        insert: fresh === undefined ? [next] : [fresh, next],
      });
      if (!done)
        throw new KeyLifecycleError(
          'the keys changed while rotating (another replica rotated); nothing done, see keys list',
        );
      const activated = plan.promote ?? (fresh as SigningKeyRecord).kid;
      audit.record('key.rotate', { demote: plan.demote, promote: activated, force });
      return { activated, retiring: plan.demote };
    },
    async compromise(kid) {
      checkSecret(await keys.list());
      // Becomes the next pending key, or the active one if no key was pending (see the store).
      const replacement = await generate('pending');
      const outcome = await keys.compromise(kid, clock.now(), replacement);
      if (outcome === undefined)
        throw new KeyLifecycleError(`no published key has kid "${kid}" (see keys list)`);
      audit.record('key.compromise', { kid, ...outcome }, 'warn');
      return outcome;
    },
    async reencryptFrom(oldSecret) {
      const old = createKeyEncryptionKey(oldSecret);
      const sealed = (await keys.list()).filter(
        (key): key is SigningKeyRecord & { privateKeyEncrypted: string } => key.privateKeyEncrypted !== null,
      );
      // Decrypting every key first: a wrong old secret stops here, before anything is written.
      const updates = sealed.map((key) => {
        const plaintext = old.decrypt(key.privateKeyEncrypted, key.kid);
        try {
          return { kid: key.kid, from: key.privateKeyEncrypted, to: kek.encrypt(plaintext, key.kid) };
        } finally {
          plaintext.fill(0);
        }
      });
      if (!(await keys.replaceEncrypted(updates)))
        throw new KeyLifecycleError(
          'the keys changed while re-encrypting (a rotation?); nothing done, run it again',
        );
      audit.record('key.reencrypted', { count: updates.length }, 'warn');
      return updates.length;
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
