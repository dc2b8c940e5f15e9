/**
 * The stack most tutorials use: passport-jwt with jwks-rsa's `passportJwtSecret` (its
 * documented options: key cache on, JWKS requests rate-limited). No helmet, no request log.
 */
import express from 'express';
import jwksRsa from 'jwks-rsa';
import passport from 'passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { listening, port, required } from './listening.js';

const strategy = new Strategy(
  {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    secretOrKeyProvider: jwksRsa.passportJwtSecret({
      cache: true,
      rateLimit: true,
      jwksRequestsPerMinute: 5,
      jwksUri: required('JWKS_URI'),
    }),
    issuer: required('ISSUER'),
    audience: required('AUDIENCE'),
    algorithms: ['RS256'],
  },
  (payload: Express.User, done: (error: unknown, user?: Express.User) => void) => done(null, payload),
);
passport.use(strategy);

const app = express();
app.use(passport.initialize());
app.get('/api/me', passport.authenticate('jwt', { session: false }) as express.RequestHandler, (req, res) => {
  res.json(req.user);
});
const server = app.listen(port(), '127.0.0.1', () => listening(server));
