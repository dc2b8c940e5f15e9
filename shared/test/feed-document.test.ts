import { describe, expect, it } from '@jest/globals';
import {
  isRevokedBy,
  toRevocationIndex,
  type RevocationFeedDocument,
} from '../src/revocation/feed-document.js';

const index = toRevocationIndex({
  generated_at: 1000,
  revoked: { jti: { j1: 500 }, sid: { f1: 500 }, sub: { u1: 500 }, client_id: { c1: 500 } },
} satisfies RevocationFeedDocument);

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
