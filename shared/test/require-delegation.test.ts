import { describe, expect, it } from '@jest/globals';
import type { Request, Response } from 'express';
import { AppError, requireDelegation } from '../src/index.js';

/** Runs the middleware on a request authenticated with these actors; resolves what it passed to next. */
function run(delegated: boolean, actors: string[] | undefined): unknown {
  const req = {
    user:
      actors === undefined
        ? undefined
        : { id: 'alice', clientId: actors[0] ?? 'web', scope: [], actors, claims: {} as never },
  } as unknown as Request;
  let passed: unknown = 'not called';
  requireDelegation(delegated)(req, {} as Response, (error?: unknown) => {
    passed = error;
  });
  return passed;
}

describe('requireDelegation', () => {
  it('lets the right kind of token through', () => {
    expect(run(true, ['notes-svc'])).toBeUndefined();
    expect(run(false, [])).toBeUndefined();
  });

  it('answers the wrong kind with 403 insufficient_scope', () => {
    for (const [delegated, actors] of [
      [true, []],
      [false, ['notes-svc', 'web-bff']],
    ] as const) {
      const error = run(delegated, [...actors]);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).status).toBe(403);
      expect((error as AppError).code).toBe('insufficient_scope');
    }
  });

  it('is a server error without createRequireToken before it', () => {
    expect((run(true, undefined) as AppError).code).toBe('server_error');
  });
});
