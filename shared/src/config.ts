import { z } from 'zod';

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
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
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
