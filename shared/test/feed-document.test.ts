import { describe, expect, it } from '@jest/globals';
import {
  isRevokedBy,
  parseRevocationFeed,
  revocationDigest,
  toRevocationFeedDocument,
  toRevocationIndex,
} from '../src/revocation/feed-document.js';

const document = toRevocationFeedDocument(
  [
    { kind: 'jti', value: 'j1', revokedAt: 500 },
    { kind: 'sid', value: 'f1', revokedAt: 500 },
    { kind: 'sub', value: 'u1', revokedAt: 500 },
    { kind: 'client_id', value: 'c1', revokedAt: 500 },
  ],
  1000,
);
const index = toRevocationIndex(document);

describe('which tokens a revocation feed refuses', () => {
  it('a revoked jti or family (sid) refuses every token carrying it, even one issued after the revocation', () => {
    // A token minted in a race with the family's revocation must not slip through.
    expect(isRevokedBy(index, { jti: 'j1', iat: 900 })).toBe(true);
    expect(isRevokedBy(index, { jti: 'other', sid: 'f1', iat: 900 })).toBe(true);
  });

  it('a subject or client cut-off refuses tokens issued up to it, not after (a re-created client)', () => {
    expect(isRevokedBy(index, { sub: 'u1', iat: 500 })).toBe(true);
    expect(isRevokedBy(index, { sub: 'u1', iat: 501 })).toBe(false);
    expect(isRevokedBy(index, { client_id: 'c1', iat: 499 })).toBe(true);
    expect(isRevokedBy(index, { client_id: 'c1', iat: 501 })).toBe(false);
  });

  it('tokens matching no entry pass', () => {
    expect(isRevokedBy(index, { jti: 'j2', sid: 'f2', sub: 'u2', client_id: 'c2', iat: 1 })).toBe(false);
  });
});

describe('the published document', () => {
  it('names no identifier: every entry is a 16-character digest of kind:value', () => {
    const text = JSON.stringify(document);
    for (const value of ['j1', 'f1', 'u1', 'c1']) expect(text).not.toContain(`"${value}"`);
    expect(document.revoked).toEqual({
      jti: revocationDigest('jti', 'j1'),
      sid: revocationDigest('sid', 'f1'),
      sub: { [revocationDigest('sub', 'u1')]: 500 },
      client_id: { [revocationDigest('client_id', 'c1')]: 500 },
    });
    expect(revocationDigest('sub', 'u1')).toMatch(/^[A-Za-z0-9_-]{16}$/);
    // The kind is part of the digest: a value listed as a sub says nothing about a jti.
    expect(revocationDigest('sub', 'u1')).not.toBe(revocationDigest('jti', 'u1'));
  });

  it('keeps the wire digest fixed: the first 96 bits of SHA-256 over the UTF-8 of kind:value, base64url', () => {
    // Auth and resource servers of different versions must agree on every digest.
    expect(revocationDigest('jti', 'j1')).toBe('gMobINzeAuOSSWcZ');
    expect(revocationDigest('sub', 'ü')).toBe('2vx0jx9CM9t2ubBg');
  });

  it('packs revoked tokens as 16 characters each, sorted, so 100,000 of them are 1.6 MB and load back', () => {
    const entries = Array.from({ length: 100_000 }, (_, i) => ({
      kind: 'jti' as const,
      value: `token-${i}`,
      revokedAt: 1,
    }));
    const big = toRevocationFeedDocument(entries, 2);
    expect(big.revoked.jti).toHaveLength(1_600_000);
    expect(toRevocationFeedDocument([...entries].reverse(), 2)).toEqual(big);
    const parsed = parseRevocationFeed(JSON.parse(JSON.stringify(big)));
    expect(parsed).toBeDefined();
    const loaded = toRevocationIndex(parsed!);
    expect(loaded.size).toBe(100_000);
    expect(isRevokedBy(loaded, { jti: 'token-99999' })).toBe(true);
    expect(isRevokedBy(loaded, { jti: 'token-100000' })).toBe(false);
  });

  it.each<[string, unknown]>([
    ['a packed list whose length is not a multiple of 16', { jti: 'abc', sid: '', sub: {}, client_id: {} }],
    [
      'a packed list with a character outside base64url',
      { jti: 'a'.repeat(15) + '+', sid: '', sub: {}, client_id: {} },
    ],
    ['a cut-off keyed by a plain identifier', { jti: '', sid: '', sub: { 'user-1': 5 }, client_id: {} }],
    [
      'a cut-off without a time',
      { jti: '', sid: '', sub: { [revocationDigest('sub', 'u')]: 'x' }, client_id: {} },
    ],
    ['jti as an object (the old format)', { jti: {}, sid: '', sub: {}, client_id: {} }],
  ])('refuses %s', (_name, revoked) => {
    expect(parseRevocationFeed({ generated_at: 1, revoked })).toBeUndefined();
  });

  it('carries the key-set version when given one, and refuses a non-string one', () => {
    expect(toRevocationFeedDocument([], 1, '"v1"').key_set).toBe('"v1"');
    expect(parseRevocationFeed({ ...toRevocationFeedDocument([], 1), key_set: 5 })).toBeUndefined();
  });
});
