import { connect, type AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, test } from '@jest/globals';
import { AppError } from '@tessera/shared';
import express, { type ErrorRequestHandler } from 'express';
import { createFormParser } from '../src/routes/form.js';

describe('the form parser', () => {
  test('a client gone while an earlier middleware waited still ends the chain: an error, not a hang', async () => {
    let release: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (release = resolve));
    // Resolves once the request is in the limiter, to a promise of its connection's close.
    let arrived: (request: { gone: Promise<void> }) => void = () => undefined;
    const inMiddleware = new Promise<{ gone: Promise<void> }>((resolve) => (arrived = resolve));
    let settle: (value: unknown) => void = () => undefined;
    const outcome = new Promise<unknown>((resolve) => (settle = resolve));

    const app = express();
    // Like the rate limiter in front of the token endpoint: the parser starts only after it.
    const slowLimiter: express.RequestHandler = async (req, _res, next) => {
      arrived({ gone: new Promise<void>((resolve) => req.socket.once('close', () => resolve())) });
      await waiting;
      next();
    };
    app.post('/form', slowLimiter, createFormParser(), () => settle('parsed'));
    // Four parameters: that is how Express tells an error handler.
    const onError: ErrorRequestHandler = (error: unknown, _req, _res, _next) => settle(error);
    app.use(onError);
    const server = app.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const { port } = server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
            'Content-Length: 40\r\n\r\ngrant_type=',
        );
      });
      const { gone } = await inMiddleware;
      socket.destroy();
      await gone; // the server has seen the client go
      release();
      const error = await Promise.race([outcome, delay(3000, 'no outcome within 3 s')]);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('invalid_request');
      expect((error as AppError).message).toBe('request aborted');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a chunked body over 8 KB is refused as it passes the limit, not when the client finishes sending', async () => {
    let settle: (value: unknown) => void = () => undefined;
    const outcome = new Promise<unknown>((resolve) => (settle = resolve));
    const app = express();
    app.post('/form', createFormParser(), () => settle('parsed'));
    const onError: ErrorRequestHandler = (error: unknown, _req, _res, _next) => settle(error);
    app.use(onError);
    const server = app.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const { port } = server.address() as AddressInfo;
      // 16 KB in four chunks, then silence with the connection open: no terminating chunk.
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
            'Transfer-Encoding: chunked\r\n\r\n',
        );
        for (let i = 0; i < 4; i++) socket.write(`1000\r\n${'a'.repeat(4096)}\r\n`);
      });
      const error = await Promise.race([outcome, delay(3000, 'no outcome within 3 s')]);
      socket.destroy();
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('payload_too_large');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
