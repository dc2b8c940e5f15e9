import { describe, expect, test } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { AppError, createServiceApp, createLogger, type OpenApiDocument } from '../src/index.js';

const openApi: OpenApiDocument = { openapi: '3.1.0', info: { title: 'example', version: '1' }, paths: {} };

function exampleApp(observed: string[]) {
  const routes = express.Router();
  routes.get('/hello', (_req, res) => void res.json({ hello: 'world' }));
  routes.get('/refused', () => {
    throw new AppError('invalid_request', 'refused');
  });
  return createServiceApp({
    logger: createLogger({ name: 'example', level: 'silent' }),
    metrics: { observeRequest: (req) => observed.push(req.url ?? '') },
    corsOrigins: ['https://app.example'],
    openApi,
    routes: [routes],
    errors: { realm: 'example', observe: (error) => observed.push(error.code) },
  });
}

describe('createServiceApp: the skeleton around a service routes', () => {
  test('a route answers with the security headers, CORS for an allowed origin, and is timed', async () => {
    const observed: string[] = [];
    const res = await request(exampleApp(observed)).get('/hello').set('Origin', 'https://app.example');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hello: 'world' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toBeDefined();
    expect(observed).toContain('/hello');
  });

  test('errors thrown by a route get the RFC error body, and the observer sees them', async () => {
    const observed: string[] = [];
    const res = await request(exampleApp(observed)).get('/refused');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'refused' });
    expect(observed).toContain('invalid_request');
  });

  test('the OpenAPI document is served after the routes, and anything else is a JSON 404', async () => {
    const app = exampleApp([]);
    const doc = await request(app).get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({ openapi: '3.1.0', info: { title: 'example' } });
    const missing = await request(app).get('/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBeDefined();
  });
});
