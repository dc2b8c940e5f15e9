/**
 * What the resource server's endpoints take and answer, as zod schemas: the routes parse with the
 * request schemas, their answers are typed by the response schemas, and `openapi.ts` generates
 * the served OpenAPI document from both.
 */
import { z } from 'zod';

export const newNote = z.object({ text: z.string().min(1).max(1000) }).meta({ id: 'NewNote' });

export const noteBody = z
  .object({ id: z.uuid(), text: z.string(), created_at: z.iso.datetime() })
  .meta({ id: 'Note' });

export const noteListBody = z.object({ notes: z.array(noteBody) }).meta({ id: 'NoteList' });

export const accessTokenClaimsBody = z
  .looseObject({
    iss: z.string(),
    sub: z.string().meta({ description: 'A user id, or the client id for client_credentials' }),
    aud: z.union([z.string(), z.array(z.string())]),
    exp: z.int(),
    iat: z.int(),
    jti: z.string(),
    client_id: z.string(),
    scope: z.string().optional().meta({ description: 'Space-separated (RFC 6749 §3.3)' }),
    sid: z.string().optional().meta({ description: 'The refresh-token family, for tokens minted from one' }),
  })
  .meta({
    id: 'AccessTokenClaims',
    description: 'RFC 9068 §2.2; other claims the token carries are passed through.',
  });

const seconds = z.number().nullable();
export const readinessBody = z
  .object({
    status: z.enum(['ok', 'not ready']),
    reason: z.string().optional().meta({ description: 'Only when not ready' }),
    jwks: z.object({
      key_count: z.int(),
      age_seconds: seconds.meta({ description: 'Since the set was last confirmed' }),
    }),
    revocations: z
      .object({
        loaded: z.boolean(),
        entries: z.int(),
        age_seconds: seconds,
        stale_after_seconds: z.int().meta({
          description: 'Past this age the held list no longer counts: not ready, and 503 on protected routes',
        }),
        last_fetch_failed: z
          .boolean()
          .meta({ description: 'The last fetch failed (the reason is in the service log, not here)' }),
      })
      .optional()
      .meta({ description: 'Only when the revocation feed is configured' }),
  })
  .meta({ id: 'Readiness' });
