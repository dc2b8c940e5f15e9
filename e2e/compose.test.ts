// The reference deployment (docker-compose.yml, the Dockerfiles, .env.example) must not drift
// from the services' configuration schemas: every variable a container receives is one its
// config reads, the effective environment of each service passes its loadConfig in production
// mode, and the deployment keeps its health checks, healthy-only start order and named volumes.
// Static checks, in `npm test` without a Docker engine (`docker-compose config -q` covers the
// schema); `npm run test:compose` runs the stack itself (e2e/compose-stack.test.ts).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { configVariables as authVariables, loadConfig as loadAuthConfig } from '@tessera/auth-server/config';
import {
  configVariables as resourceVariables,
  loadConfig as loadResourceConfig,
} from '@tessera/resource-server/config';
import { root } from './processes.js';

type Env = Record<string, string>;

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: (string | { type?: string; source?: string })[];
  ports?: string[];
  networks?: Record<string, { aliases?: string[] } | null> | string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

// `merge: true`: the file shares the auth-server definition through a `<<: *anchor` merge key.
const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);

/** KEY=value lines, as Compose reads a .env file (comments and blank lines skipped). */
function parseDotEnv(text: string): Env {
  const env: Env = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (match === null) throw new Error(`.env.example: not a KEY=value line: ${line}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

const example = parseDotEnv(read('.env.example'));
/**
 * The .env an operator writes from .env.example: every change-me placeholder replaced by a
 * random value (production mode refuses the placeholders themselves).
 */
const dotEnv: Env = Object.fromEntries(
  Object.entries(example).map(([key, value]) => [
    key,
    value.startsWith('change-me') ? randomBytes(32).toString('hex') : value,
  ]),
);

/** Every ${NAME...} or $NAME a string refers to (`$$` is a literal dollar). */
function referencedVariables(text: string): string[] {
  return [...text.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*)|\$)/g)]
    .map((match) => match[1] ?? match[2])
    .filter((name) => name !== undefined);
}

/** Every NAME that .env.example sets or shows commented out (`# NAME=value`). */
const documented = new Set(
  read('.env.example')
    .split('\n')
    .flatMap((line) => /^(?:#\s*)?([A-Z][A-Z0-9_]*)=/.exec(line.trim())?.[1] ?? []),
);

/** Variables the compose file uses without a default that .env.example does not set. */
const substitutionProblems: string[] = [];

/**
 * Compose's substitution: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
 * `${NAME:?error}`, `${NAME?error}`. An unset variable without a default is recorded as a
 * problem here (Compose would only warn, or stop for `?`) and replaced by an empty string.
 */
function interpolate(text: string, vars: Env): string {
  return text.replace(
    /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (whole, braced?: string, colon?: string, operator?: string, argument?: string, bare?: string) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const value = vars[name];
      const missing = value === undefined || (colon === ':' && value === '');
      if (!missing) return value;
      if (operator === '-') return argument ?? '';
      substitutionProblems.push(`\${${name}} is not set${operator === '?' ? `: ${argument}` : ''}`);
      return '';
    },
  );
}

function environmentOf(service: ComposeService): Env {
  const env: Env = {};
  const entries = Array.isArray(service.environment)
    ? service.environment.map((item) => {
        const [key, ...value] = item.split('=');
        return [key!, value.join('=')] as const;
      })
    : Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value ?? '')] as const);
  for (const [key, value] of entries) env[key] = interpolate(value, dotEnv);
  return env;
}

/** The ENV instructions of a Dockerfile's last stage (the runtime image). */
function runtimeEnvOf(dockerfile: string): Env {
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Env = {};
  for (const [, assignments] of lastStage.matchAll(/^ENV\s+(.+)$/gm))
    for (const assignment of assignments!.trim().split(/\s+/)) {
      const [key, ...value] = assignment.split('=');
      env[key!] = value.join('=');
    }
  return env;
}

type Kind = 'auth-server' | 'resource-server';
const schemas: Record<Kind, { variables: readonly string[]; load: (env: Env) => unknown }> = {
  'auth-server': { variables: authVariables, load: loadAuthConfig },
  'resource-server': { variables: resourceVariables, load: loadResourceConfig },
};

/** Our services are the ones built from a service's Dockerfile; the rest are stock images. */
function kindOf(service: ComposeService): Kind | undefined {
  const dockerfile = service.build?.dockerfile;
  return dockerfile === 'auth-server/Dockerfile' || dockerfile === 'resource-server/Dockerfile'
    ? (dockerfile.split('/')[0] as Kind)
    : undefined;
}

const ours = services.flatMap(([name, service]) => {
  const kind = kindOf(service);
  if (kind === undefined) return [];
  const dockerfile = read(`${kind}/Dockerfile`);
  const environment = environmentOf(service);
  // What the process sees: the image's ENV, overridden by the compose file's environment.
  return [{ name, kind, service, environment, effective: { ...runtimeEnvOf(dockerfile), ...environment } }];
});
const auth = ours.filter((s) => s.kind === 'auth-server');
const resource = ours.filter((s) => s.kind === 'resource-server');

describe('docker-compose.yml', () => {
  it('runs at least two auth-server replicas, a resource server, PostgreSQL, Redis and the edge', () => {
    expect(auth.length).toBeGreaterThanOrEqual(2);
    expect(resource.length).toBeGreaterThanOrEqual(1);
    // The upstream images by default (a variable each, for mirrors and local stand-ins).
    const images = services.map(([, service]) => interpolate(service.image ?? '', dotEnv));
    expect(images).toEqual(expect.arrayContaining(['postgres:15', 'redis:7', 'nginx:1.27']));
  });

  it('publishes ports on the loopback address only, and the auth servers only through the edge', () => {
    const published = services.flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => [name, interpolate(port, dotEnv)] as const),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const [, port] of published) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    for (const { name } of auth) expect(published.map(([service]) => service)).not.toContain(name);
    expect(published).toContainEqual(['edge', `127.0.0.1:${new URL(dotEnv.ISSUER!).port}:8080`]);
  });

  it('fetches keys over the compose network from a name every auth-server replica answers to', () => {
    for (const { environment, effective } of resource) {
      const backchannel = new URL(environment.BACKCHANNEL_URL!);
      for (const { service } of auth) {
        const networks = service.networks as Record<string, { aliases?: string[] }>;
        expect(networks.default?.aliases).toContain(backchannel.hostname);
      }
      const config = loadResourceConfig(effective);
      expect(new URL(config.jwksUri).origin).toBe(backchannel.origin);
      expect(new URL(config.revocationFeedUri).origin).toBe(backchannel.origin);
      expect(config.issuer).toBe(dotEnv.ISSUER);
    }
  });

  it.each(ours.map((s) => [s.name, s] as const))(
    '%s is healthy when ready (/readyz)',
    (_name, { service }) => {
      expect(String(service.healthcheck?.test)).toContain('/readyz');
    },
  );

  describe.each(ours.map((s) => [s.name, s] as const))(
    '%s',
    (_name, { kind, service, environment, effective }) => {
      it("sets only variables that the service's config reads", () => {
        const unknown = Object.keys(environment).filter((key) => !schemas[kind].variables.includes(key));
        expect(unknown).toEqual([]);
      });

      it('lists every variable it receives under environment, with no env_file', () => {
        // An env_file would hand the container variables this test cannot see (and every
        // service the secrets of the others); .env is read for ${...} substitution instead.
        expect(service.env_file).toBeUndefined();
      });

      it('runs in production mode', () => {
        if (schemas[kind].variables.includes('NODE_ENV')) expect(environment.NODE_ENV).toBe('production');
        expect(effective.NODE_ENV).toBe('production');
      });

      it('starts with its effective environment (.env.example substituted)', () => {
        expect(() => schemas[kind].load(effective)).not.toThrow();
      });
    },
  );

  it.each(auth.map((s) => [s.name, s] as const))(
    '%s runs in production mode on PostgreSQL with a configured key-encryption secret',
    (_name, { environment, effective }) => {
      for (const key of ['NODE_ENV', 'ISSUER', 'DATABASE_URL', 'KEY_ENCRYPTION_SECRET'])
        expect(Object.keys(environment)).toContain(key);
      expect(environment.NODE_ENV).toBe('production');
      const config = loadAuthConfig(effective);
      expect(config.production).toBe(true);
      expect(config.database).toMatchObject({ dialect: 'postgres' });
      expect(config.keyEncryptionSecret).toBeDefined();
      expect(config.host).toBe('0.0.0.0');
    },
  );

  it('gives every auth-server replica the same settings', () => {
    const [first, ...others] = auth.map((s) => s.environment);
    for (const other of others) expect(other).toEqual(first);
  });

  it('shares rate limits across the replicas through Redis', () => {
    // docs/configuration.md: unset REDIS_URL means in-process limits, i.e. one budget per replica.
    for (const { environment } of auth) expect(environment.REDIS_URL).toMatch(/^redis:\/\/redis:6379/);
  });

  it.each(resource.map((s) => [s.name, s] as const))(
    '%s expects the issuer the auth servers sign with, and a resource of its own',
    (_name, { environment, effective }) => {
      expect(Object.keys(environment)).toContain('ISSUER');
      expect(Object.keys(environment)).toContain('AUDIENCE');
      const config = loadResourceConfig(effective);
      for (const { effective: authEnv } of auth) expect(config.issuer).toBe(loadAuthConfig(authEnv).issuer);
    },
  );

  it('runs two resource servers from the same code, each answering for a different resource', () => {
    const audiences = resource.map(({ effective }) => loadResourceConfig(effective).audience);
    expect(resource.length).toBeGreaterThanOrEqual(2);
    expect(new Set(audiences).size).toBe(audiences.length);
    for (const audience of audiences) expect(audience).toMatch(/^https?:\/\//);
  });

  it.each(services)('%s has a health check', (_name, service) => {
    expect(service.healthcheck?.disable).not.toBe(true);
    expect(service.healthcheck?.test).toBeDefined();
  });

  it.each(services)('%s waits only for healthy dependencies', (_name, service) => {
    // The short list form means "started", which is not "ready".
    expect(Array.isArray(service.depends_on)).toBe(false);
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      expect(compose.services[dependency]).toBeDefined();
      expect(condition).toBe('service_healthy');
    }
  });

  it('makes the auth servers wait for PostgreSQL and Redis, and the resource server for an auth server', () => {
    for (const { service } of auth)
      expect(Object.keys(service.depends_on ?? {})).toEqual(['postgres', 'redis']);
    for (const { service } of resource)
      expect(Object.keys(service.depends_on ?? {}).some((name) => auth.some((a) => a.name === name))).toBe(
        true,
      );
  });

  it('keeps PostgreSQL data in a declared named volume', () => {
    const declared = Object.keys(compose.volumes ?? {});
    const named = services.flatMap(([, service]) =>
      (service.volumes ?? [])
        .map((volume) =>
          typeof volume === 'string' ? interpolate(volume, dotEnv).split(':')[0]! : (volume.source ?? ''),
        )
        .filter((source) => source !== '' && !/^[./~]/.test(source)),
    );
    for (const name of named) expect(declared).toContain(name);
    expect(compose.services.postgres?.volumes).toContainEqual(
      expect.stringMatching(/:\/var\/lib\/postgresql\/data$/),
    );
  });

  it('takes every substituted value from .env.example, which documents each and holds nothing unused', () => {
    expect(substitutionProblems).toEqual([]);
    const text = read('docker-compose.yml');
    const used = new Set(
      text
        .split('\n')
        .filter((line) => !line.trim().startsWith('#'))
        .flatMap(referencedVariables),
    );
    expect([...used].sort()).toEqual([...documented].sort());
    for (const key of Object.keys(dotEnv)) expect(used).toContain(key);
  });
});

describe('.env.example', () => {
  it('holds placeholders, not secrets, for every secret', () => {
    for (const [key, value] of Object.entries(example))
      if (/SECRET|PASSWORD/.test(key)) expect(value).toMatch(/^change-me/);
  });
});

describe.each(['auth-server', 'resource-server'])('%s/Dockerfile', (service) => {
  const dockerfile = read(`${service}/Dockerfile`);
  const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+\s/.test(line));

  it('runs as a non-root user, with a health check and SIGTERM as its stop signal', () => {
    const user = instructions.filter((line) => line.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|\s|$)/);
    expect(instructions.some((line) => line.startsWith('HEALTHCHECK '))).toBe(true);
    expect(instructions).toContain('STOPSIGNAL SIGTERM');
  });

  it('builds on node:20-bookworm and runs on node:20-bookworm-slim by default, in production mode', () => {
    const stages = instructions.filter((line) => line.startsWith('FROM '));
    expect(instructions).toContain('ARG NODE_IMAGE=node:20-bookworm');
    expect(instructions).toContain('ARG NODE_SLIM_IMAGE=node:20-bookworm-slim');
    expect(stages[0]).toMatch(/^FROM \$\{NODE_IMAGE\}\s/);
    expect(stages.at(-1)).toMatch(/^FROM \$\{NODE_SLIM_IMAGE\}(\s|$)/);
    expect(runtimeEnvOf(dockerfile)).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0' });
  });

  it('needs no image beyond its base images to build (no `# syntax=` line)', () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax=/im);
  });

  it('bakes in no secret', () => {
    const secretLike = instructions.filter(
      (line) => /^(ENV|ARG)\s/.test(line) && /SECRET|PASSWORD/i.test(line),
    );
    expect(secretLike).toEqual([]);
  });
});

describe('.dockerignore', () => {
  it('keeps secrets, local state and build output out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['.git', '.env', '**/node_modules', '**/dist', '**/data'])
      expect(ignored).toContain(entry);
  });
});
