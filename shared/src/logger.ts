import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

/**
 * Paths never written to a log. Request logs carry no headers and bodies are never logged,
 * but error objects and audit fields might carry these names.
 */
export const redactedPaths: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'password',
  'client_secret',
  'access_token',
  'refresh_token',
  'token',
  'client_assertion',
  'assertion',
  'id_token',
  'id_token_hint',
  'code_verifier',
  '*.password',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.token',
  '*.client_assertion',
  '*.assertion',
  '*.id_token',
  '*.id_token_hint',
  '*.code_verifier',
  '*.authorization',
];

export interface LoggerOptions {
  name: string;
  level: LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a sink to capture them. */
  destination?: DestinationStream;
}

/** Creates a service's root logger with redaction of credentials and tokens. */
export function createLogger({ name, level, destination }: LoggerOptions): Logger {
  const options = { name, level, redact: { paths: [...redactedPaths], censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export type { Logger } from 'pino';
