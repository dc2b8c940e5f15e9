/** express-jwt with jwks-rsa's `expressJwtSecret`, as its README sets it up. No helmet, no request log. */
import express from 'express';
import { expressjwt, type Request } from 'express-jwt';
import jwksRsa from 'jwks-rsa';
import { listening, port, required } from './listening.js';

const app = express();
app.get(
  '/api/me',
  expressjwt({
    secret: jwksRsa.expressJwtSecret({
      cache: true,
      rateLimit: true,
      jwksRequestsPerMinute: 5,
      jwksUri: required('JWKS_URI'),
    }),
    issuer: required('ISSUER'),
    audience: required('AUDIENCE'),
    algorithms: ['RS256'],
  }),
  (req: Request, res) => {
    res.json(req.auth);
  },
);
const server = app.listen(port(), '127.0.0.1', () => listening(server));
