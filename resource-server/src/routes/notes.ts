import { randomUUID } from 'node:crypto';
import { AppError, requireScope, sendJson, type Clock } from '@tessera/shared';
import express, { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import { newNote, type noteBody, type noteListBody } from '../contract.js';

/** A note as stored and as sent on the wire. */
export type Note = z.input<typeof noteBody>;

/** How many notes the in-memory store keeps: per caller, and in all. */
export interface NotesLimits {
  perUser: number;
  total: number;
}

/**
 * About 2 KB per 1000-character note, so at most ~20 MB in all; no caller can take more than
 * a hundredth of it.
 */
export const defaultNotesLimits: Readonly<NotesLimits> = Object.freeze({ perUser: 100, total: 10_000 });

export interface NotesRouterOptions {
  requireToken: RequestHandler;
  clock: Clock;
  limits?: NotesLimits;
}

/** The scope values these routes require: what this service understands (RFC 9728 `scopes_supported`). */
export const notesScopes = ['notes:read', 'notes:write'] as const;

/** Only `application/json` bodies (any charset parameter; body-parser rejects non-UTF charsets). */
const requireJson: RequestHandler = (req, _res, next) => {
  const mediaType = req.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase();
  if (mediaType === 'application/json') next();
  else next(new AppError('unsupported_media_type', 'the body must be application/json'));
};

/**
 * GET/POST /api/notes: each caller (token `sub`) sees only their own notes. The store is an
 * in-memory Map owned by this router, so each app instance starts empty.
 * Authentication runs before the body is read, so an anonymous caller cannot make us parse it.
 *
 * The store is bounded, per caller and in total (any store a client can write to needs both: one
 * token holder must not fill the process's memory, nor crowd out every other caller): a caller
 * at `limits.perUser` notes gets 409 `conflict`, and once the store holds `limits.total` notes
 * every new one is 507 `insufficient_storage` (RFC 4918 §11.5), each with a description saying
 * which limit was reached.
 */
export function createNotesRouter({
  requireToken,
  clock,
  limits = defaultNotesLimits,
}: NotesRouterOptions): Router {
  const notesBySubject = new Map<string, Note[]>();
  let total = 0;
  const router = Router();

  router.get('/api/notes', requireToken, requireScope('notes:read'), (req, res) => {
    const owner = (req.user as Express.User).id;
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { notes: notesBySubject.get(owner) ?? [] } satisfies z.input<typeof noteListBody>);
  });

  router.post(
    '/api/notes',
    requireToken,
    requireScope('notes:write'),
    requireJson,
    express.json({ limit: '16kb', type: () => true }),
    (req, res) => {
      const parsed = newNote.safeParse(req.body);
      if (!parsed.success)
        throw new AppError('invalid_request', 'body must be {"text": string of 1 to 1000 characters}');
      const owner = (req.user as Express.User).id;
      const notes = notesBySubject.get(owner) ?? [];
      if (notes.length >= limits.perUser)
        throw new AppError('conflict', `note limit reached: at most ${limits.perUser} notes per user`);
      if (total >= limits.total)
        throw new AppError('insufficient_storage', `the notes store is full (${limits.total} notes)`);
      const note: Note = {
        id: randomUUID(),
        text: parsed.data.text,
        created_at: new Date(clock.now()).toISOString(),
      };
      notes.push(note);
      notesBySubject.set(owner, notes);
      total += 1;
      res.setHeader('Cache-Control', 'no-store');
      sendJson(res, 201, note);
    },
  );

  return router;
}
