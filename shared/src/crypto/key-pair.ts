import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';

/** RSA by modulus length, or EC by named curve. */
export type KeyPairSpec = { type: 'rsa'; modulusLength: number } | { type: 'ec'; namedCurve: string };

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

const generateDer = promisify(generateKeyPair);

const publicKeyEncoding = { type: 'spki', format: 'der' } as const;
const privateKeyEncoding = { type: 'pkcs8', format: 'der' } as const;

/**
 * A new key pair whose KeyObjects share nothing with the key-generation job. On Node.js 20, the
 * KeyObjects that `generateKeyPair(Sync)` returns share a lock with the finished job; when a
 * garbage collection frees the job while one of them is exported as a JWK (which holds that lock
 * and allocates), the thread waits on itself forever. Seen as a hung process (gdb: `~KeyGenJob`
 * in `uv_mutex_lock` under `ExportJWKRsaKey`). Generating the pair as DER and importing it again
 * gives keys with locks of their own.
 */
export function newKeyPairSync(spec: KeyPairSpec): KeyPair {
  const { publicKey, privateKey } =
    spec.type === 'rsa'
      ? generateKeyPairSync('rsa', {
          modulusLength: spec.modulusLength,
          publicKeyEncoding,
          privateKeyEncoding,
        })
      : generateKeyPairSync('ec', { namedCurve: spec.namedCurve, publicKeyEncoding, privateKeyEncoding });
  return fromDer(publicKey, privateKey);
}

/** `newKeyPairSync`, with the generation off the event loop. */
export async function newKeyPair(spec: KeyPairSpec): Promise<KeyPair> {
  const { publicKey, privateKey } =
    spec.type === 'rsa'
      ? await generateDer('rsa', { modulusLength: spec.modulusLength, publicKeyEncoding, privateKeyEncoding })
      : await generateDer('ec', { namedCurve: spec.namedCurve, publicKeyEncoding, privateKeyEncoding });
  return fromDer(publicKey, privateKey);
}

function fromDer(publicKey: Buffer, privateKey: Buffer): KeyPair {
  return {
    publicKey: createPublicKey({ key: publicKey, format: 'der', type: 'spki' }),
    privateKey: createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }),
  };
}
