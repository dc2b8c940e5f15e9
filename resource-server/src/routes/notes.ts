import { randomUUID } from 'node:crypto';
import { AppError, sendJson, type Clock } from '@tessera/shared';
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { requireScope } from '../auth/passport.js';

/** A note as stored and as sent on the wire. */
export interface Note {
  id: string;
  text: string;
  created_at: string;
}

export interface NotesRouterOptions {
  requireToken: RequestHandler;
  clock: Clock;
}

const newNote = z.object({ text: z.string().min(1).max(1000) });

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
 */
export function createNotesRouter({ requireToken, clock }: NotesRouterOptions): Router {
  const notesBySubject = new Map<string, Note[]>();
  const router = Router();

  router.get('/api/notes', requireToken, requireScope('notes:read'), (req, res) => {
    const owner = (req.user as Express.User).id;
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { notes: notesBySubject.get(owner) ?? [] });
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
      const note: Note = {
        id: randomUUID(),
        text: parsed.data.text,
        created_at: new Date(clock.now()).toISOString(),
      };
      const notes = notesBySubject.get(owner) ?? [];
      notes.push(note);
      notesBySubject.set(owner, notes);
      res.setHeader('Cache-Control', 'no-store');
      sendJson(res, 201, note);
    },
  );

  return router;
}
