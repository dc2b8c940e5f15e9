import { z } from 'zod';
import { maxClockToleranceSeconds } from './revocation/feed-document.js';
import { LocalError } from './errors.js';

const durationPattern = /^(\d+)(s|m|h|d)?$/;
const secondsPerUnit = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Parses `90s`, `15m`, `12h`, `30d` or plain seconds into seconds; `undefined` if malformed. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (match === null) return undefined;
  const unit = (match[2] ?? 's') as keyof typeof secondsPerUnit;
  const seconds = Number(match[1]) * secondsPerUnit[unit];
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** A zod schema for a duration variable: the result is in seconds and at least `min`. */
export function duration(defaultValue: string, min = 1) {
  return z
    .string()
    .default(defaultValue)
    .transform((text, ctx) => {
      const seconds = parseDuration(text);
      if (seconds === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration like 90s, 15m, 12h, 30d, got "${text}"`,
        });
        return z.NEVER;
      }
      if (seconds < min) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${min}s` });
        return z.NEVER;
      }
      return seconds;
    });
}

/** A zod schema for a TCP port (0 = any free port). */
export function port(defaultValue: number) {
  return z.coerce.number().int().min(0).max(65535).default(defaultValue);
}

/**
 * The variables of a service's metrics listener, to spread into its config schema:
 * `METRICS_PORT` (default `defaultPort`; 0 = any free port) and `METRICS_HOST` (default
 * `127.0.0.1`: loopback only; a container sets `0.0.0.0` and publishes the port on no public
 * network). Metrics are never served on the API port (see `createMetricsApp`).
 */
export function metricsVariables(defaultPort: number) {
  return {
    METRICS_PORT: port(defaultPort),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  };
}

/**
 * The base configuration schema every service extends (spread first into its `z.object`):
 * `NODE_ENV`, `PORT`, `HOST` (loopback by default), the metrics listener's, `ISSUER` (the auth
 * server's public base URL: the `iss` it signs, or the one a verifier accepts), `CLOCK_TOLERANCE`,
 * `LOG_LEVEL` and `CORS_ORIGINS`. {@link readServiceConfig} reads them all.
 */
export function serviceVariables(defaults: { port: number; metricsPort: number }) {
  return {
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: port(defaults.port),
    HOST: z.string().min(1).default('127.0.0.1'),
    ...metricsVariables(defaults.metricsPort),
    ISSUER: httpUrl().default('http://localhost:4000'),
    CLOCK_TOLERANCE: duration('30s', 0).refine(
      (value) => value <= maxClockToleranceSeconds,
      `must be at most ${maxClockToleranceSeconds}s`,
    ),
    LOG_LEVEL: logLevel,
    CORS_ORIGINS: corsOrigins(),
  };
}

/** What every service's configuration holds (both services' configs extend it). */
export interface ServiceConfig {
  production: boolean;
  port: number;
  host: string;
  /** Where `GET /metrics` is served: its own listener, never the API's (loopback by default). */
  metrics: Readonly<{ port: number; host: string }>;
  /** The auth server's public base URL: the `iss` of every token. */
  issuer: string;
  /** Clock skew allowed on `exp`, `nbf` and `iat`. */
  clockToleranceSeconds: number;
  logLevel: z.output<typeof logLevel>;
  /** Origins allowed cross-origin (CORS); empty: CORS off. */
  corsOrigins: readonly string[];
}

/** The {@link ServiceConfig} part of an environment parsed with {@link serviceVariables}. */
export function readServiceConfig(
  env: z.output<z.ZodObject<ReturnType<typeof serviceVariables>>>,
): ServiceConfig {
  return {
    production: env.NODE_ENV === 'production',
    port: env.PORT,
    host: env.HOST,
    metrics: Object.freeze({ port: env.METRICS_PORT, host: env.METRICS_HOST }),
    issuer: env.ISSUER,
    clockToleranceSeconds: env.CLOCK_TOLERANCE,
    logLevel: env.LOG_LEVEL,
    corsOrigins: env.CORS_ORIGINS,
  };
}

/** A zod schema for an absolute http(s) URL without a trailing slash. */
export function httpUrl() {
  return z
    .string()
    .url()
    .refine((value) => /^https?:\/\//.test(value), 'must be an http:// or https:// URL')
    .transform((value) => value.replace(/\/+$/, ''));
}

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** Raised when configuration is invalid; its message has one line per problem, each naming the variable. */
export class ConfigError extends LocalError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('invalid_config', problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Validates an environment against a schema and reports every problem at once
 * (`PORT: expected a number`), so an operator fixes a config in one round.
 */
export function readEnv<S extends z.ZodType>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.output<S> {
  // Empty strings mean "unset", as in a compose file's `VAR=`.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'config'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** True for URLs whose host is a loopback address (allowed over http:// in production). */
export function isLoopbackUrl(value: string): boolean {
  const { hostname } = new URL(value);
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * A zod schema for `CORS_ORIGINS`: a comma-separated allow-list of exact origins
 * (`https://app.example.com,http://localhost:5173`); unset means CORS stays off. `*` is refused:
 * an allow-list is the point (and Fetch forbids `*` together with credentials).
 */
export function corsOrigins() {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return [] as string[];
      const origins = text
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== '');
      for (const origin of origins) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(origin);
        } catch {
          parsed = undefined;
        }
        if (origin === '*' || parsed === undefined || parsed.origin !== origin) {
          ctx.addIssue({
            code: 'custom',
            message: `"${origin}" is not an origin; list exact origins like https://app.example.com (no *, path or trailing slash)`,
          });
          return z.NEVER;
        }
      }
      return origins;
    });
}

/**
 * What the configuration reference (docs/configuration.md, generated by `npm run docs:config`)
 * says about one variable. Each service keeps one of these per variable of its schema, typed so
 * that a variable without a description does not compile.
 */
export interface VariableDoc {
  /** What the variable does, in Markdown (one or two sentences). */
  description: string;
  /** The default as the reference shows it, where the schema's own default is computed or absent. */
  default?: string;
}

/** The descriptions of the variables every Tessera service reads (spread into each service's map). */
export const commonVariableDocs = {
  NODE_ENV: {
    description:
      '`development`, `test` or `production`. Production refuses unsafe settings at start, one line per problem.',
  },
  PORT: { description: 'the API port (`0`: any free port)' },
  HOST: { description: 'the address the API listens on' },
  METRICS_PORT: {
    description:
      'where `GET /metrics` is served: a listener of its own, never on the API port (`0`: any free port)',
  },
  METRICS_HOST: {
    description:
      "the metrics listener's address; keep it on the monitoring network (compose: `0.0.0.0`, not published)",
  },
  ISSUER: { description: "the `iss` of every token: the auth server's public base URL" },
  AUDIENCE: { description: 'the `aud` of every token' },
  LOG_LEVEL: { description: 'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`' },
  CLOCK_TOLERANCE: { description: 'clock skew allowed on `exp`, `nbf` and `iat` (at most 300s)' },
  CORS_ORIGINS: {
    description:
      'comma-separated exact origins allowed cross-origin (never with credentials); `*` is refused',
    default: 'unset (CORS off)',
  },
} as const satisfies Readonly<Record<string, VariableDoc>>;
