/** The ceiling for any protected route: a bare Express 5 JSON route, default settings, nothing else. */
import express from 'express';
import { listening, port } from './listening.js';

const app = express();
app.get('/json', (_req, res) => {
  res.json({ ok: true });
});
const server = app.listen(port(), '127.0.0.1', () => listening(server));
