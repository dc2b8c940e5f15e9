import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, errorCodeOf, exitStatusOf, LocalError } from '@tessera/shared';
import { storeCacheTtlMs } from '../storage/storage.js';
import { loadConfig } from '../config.js';
import { nextChange } from '../keys/lifecycle.js';
import { loadServices, type Services } from '../app.js';

const usage = `usage: npm run admin -- <command>
  users create --username U --password-stdin [--scopes "a b"]
  users disable --username U
  users unlock --username U
  users revoke-consent --username U --client-id C   the next sign-in to that client asks again
  clients create --client-id C --grants authorization_code,refresh_token,client_credentials,password,token_exchange --scopes "a b"
          [--public] [--json] [--resources URI[,URI...]] [--auth-method client_secret|private_key_jwt --jwks-file keys.json]
          [--redirect-uris URI,...] [--post-logout-redirect-uris URI,...] [--first-party]
  clients set-resources --client-id C --resources URI[,URI...]   the resources it may ask tokens for ("" for none)
  clients set-keys --client-id C --jwks-file keys.json   replace a private_key_jwt client's public keys
  clients delete --client-id C
  resources create --uri URI --scopes "a b" [--server-client C]   register a service that accepts tokens
  resources update --uri URI [--scopes "a b"] [--server-client C|""]
  resources list [--json]
  resources delete --uri URI
  keys list [--json]        each key's state and when it changes next
  keys rotate [--force]     pending → active, active → retiring, a new pending key
  keys compromise <kid>     unpublish that key now; if it was signing, the pending key signs from now
  keys reencrypt --old-secret-stdin   re-encrypt the private keys under the current KEY_ENCRYPTION_SECRET
  migrate`;

const usageError = (message: string) => new LocalError('usage', message);

const options = {
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'old-secret-stdin': { type: 'boolean' },
  scopes: { type: 'string' },
  'client-id': { type: 'string' },
  grants: { type: 'string' },
  'auth-method': { type: 'string' },
  'jwks-file': { type: 'string' },
  resources: { type: 'string' },
  uri: { type: 'string' },
  'server-client': { type: 'string' },
  public: { type: 'boolean' },
  'redirect-uris': { type: 'string' },
  'post-logout-redirect-uris': { type: 'string' },
  'first-party': { type: 'boolean' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function required(
  flags: Flags,
  name: 'username' | 'client-id' | 'grants' | 'jwks-file' | 'uri' | 'scopes',
): string {
  const value = flags[name];
  if (value === undefined || value === '') throw usageError(`--${name} is required`);
  return value;
}

/** Reads the whole of stdin; one trailing newline (from `echo` or a here-doc) is not part of the password. */
async function readStdin(flag = '--password-stdin'): Promise<string> {
  if (process.stdin.isTTY) throw usageError(`${flag} reads from standard input; pipe it in`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * The JWK Set in `--jwks-file`, parsed; what it must hold is checked by the client service. A
 * relative path is taken from where the operator ran `npm run admin` (npm's INIT_CWD; the script
 * itself runs in auth-server/).
 */
function readJwksFile(flags: Flags): unknown {
  const file = required(flags, 'jwks-file');
  let text: string;
  try {
    text = readFileSync(resolve(process.env.INIT_CWD ?? '.', file), 'utf8');
  } catch (error) {
    throw new LocalError(
      'invalid_input',
      `cannot read --jwks-file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: error },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new LocalError('invalid_input', `--jwks-file ${file} is not JSON`);
  }
}

/** The JWKS of `clients create`: only with --auth-method private_key_jwt, and then required. */
function readCreateJwks(flags: Flags): unknown {
  const method = flags['auth-method'] ?? 'client_secret';
  if (method !== 'client_secret' && method !== 'private_key_jwt')
    throw usageError('--auth-method must be client_secret or private_key_jwt');
  if (method === 'client_secret') {
    if (flags['jwks-file'] !== undefined)
      throw usageError('--jwks-file goes with --auth-method private_key_jwt');
    return undefined;
  }
  if (flags.public === true) throw usageError('a --public client has no credentials: no keys either');
  return readJwksFile(flags);
}

const kids = (jwks: readonly { kid?: string }[]) => jwks.map((key) => key.kid ?? '(no kid)').join(', ');

const print = (line: string) => process.stdout.write(`${line}\n`);
const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

async function run(
  command: string,
  args: readonly string[],
  flags: Flags,
  services: Services,
): Promise<void> {
  switch (command) {
    case 'users create': {
      if (flags['password-stdin'] !== true)
        throw usageError('--password-stdin is required (passwords are never taken from the command line)');
      const username = required(flags, 'username');
      const user = await services.users.create({
        username,
        password: await readStdin(),
        scopes: flags.scopes ?? '',
      });
      print(`created user ${user.username} (id ${user.id}) with scopes "${user.scopes.join(' ')}"`);
      return;
    }
    case 'users disable': {
      const username = required(flags, 'username');
      await services.users.disable(username);
      print(`disabled user ${username}; their refresh tokens and access tokens are revoked`);
      return;
    }
    case 'users unlock': {
      // Any username, known or not: locks are kept for unknown ones too (limits/login-throttle.ts).
      const username = required(flags, 'username');
      const unlocked = await services.throttle.unlock(username);
      print(unlocked ? `unlocked ${username}` : `no failed logins recorded for ${username}`);
      return;
    }
    case 'users revoke-consent': {
      const username = required(flags, 'username');
      const clientId = required(flags, 'client-id');
      const revoked = await services.users.revokeConsent(username, clientId);
      print(
        revoked
          ? `revoked ${username}'s consent for ${clientId}; the next sign-in to it asks again`
          : `${username} has no remembered consent for ${clientId}`,
      );
      return;
    }
    case 'clients create': {
      const jwks = readCreateJwks(flags);
      const { client, secret } = await services.clients.create({
        clientId: required(flags, 'client-id'),
        grants: required(flags, 'grants'),
        scopes: flags.scopes ?? '',
        isPublic: flags.public === true,
        resources: flags.resources ?? '',
        ...(jwks === undefined ? {} : { jwks }),
        redirectUris: flags['redirect-uris'] ?? '',
        postLogoutRedirectUris: flags['post-logout-redirect-uris'] ?? '',
        firstParty: flags['first-party'] === true,
      });
      if (flags.json === true) {
        print(
          JSON.stringify(
            secret === undefined
              ? { client_id: client.clientId }
              : { client_id: client.clientId, client_secret: secret },
          ),
        );
        return;
      }
      print(`client_id:     ${client.clientId}`);
      if (secret !== undefined) {
        print(`client_secret: ${secret}`);
        print('(the secret is shown only now; only its digest is stored)');
      } else if (client.jwks !== null)
        print(`(private_key_jwt: authenticates with a JWT signed by one of its keys: ${kids(client.jwks)})`);
      else print('(public client: no secret)');
      return;
    }
    case 'clients set-resources': {
      const clientId = required(flags, 'client-id');
      if (flags.resources === undefined) throw usageError('--resources is required ("" for none)');
      const resources = await services.clients.setResources(clientId, flags.resources);
      print(
        resources.length === 0
          ? `client ${clientId} may ask for no resource now`
          : `client ${clientId} may ask tokens for: ${resources.join(', ')}`,
      );
      print(
        `(auth-server replicas use this within ${storeCacheTtlMs / 1000}s; tokens already issued keep their aud)`,
      );
      return;
    }
    case 'resources create': {
      const serverClient = flags['server-client'];
      const resource = await services.resources.create({
        uri: required(flags, 'uri'),
        scopes: required(flags, 'scopes'),
        ...(serverClient === undefined || serverClient === '' ? {} : { serverClientId: serverClient }),
      });
      print(`registered resource ${resource.uri} with scopes "${resource.scopes.join(' ')}"`);
      print(
        resource.serverClientId === null
          ? '(no server client: nobody may introspect its tokens)'
          : `(${resource.serverClientId} is its server: it alone may introspect its tokens)`,
      );
      return;
    }
    case 'resources update': {
      const uri = required(flags, 'uri');
      if (flags.scopes === undefined && flags['server-client'] === undefined)
        throw usageError('give --scopes and/or --server-client');
      const resource = await services.resources.update(uri, {
        ...(flags.scopes === undefined ? {} : { scopes: flags.scopes }),
        ...(flags['server-client'] === undefined ? {} : { serverClientId: flags['server-client'] }),
      });
      print(
        `resource ${resource.uri}: scopes "${resource.scopes.join(' ')}", server client ${resource.serverClientId ?? '(none)'}`,
      );
      return;
    }
    case 'resources list': {
      const resources = await services.resources.list();
      if (flags.json === true) {
        print(
          JSON.stringify(
            resources.map((resource) => ({
              resource: resource.uri,
              scopes: resource.scopes,
              server_client_id: resource.serverClientId,
              created_at: iso(resource.createdAt),
            })),
          ),
        );
        return;
      }
      if (resources.length === 0) print('no resources registered');
      for (const resource of resources)
        print(
          `${resource.uri}  scopes "${resource.scopes.join(' ')}"  server client ${resource.serverClientId ?? '-'}`,
        );
      return;
    }
    case 'resources delete': {
      const uri = required(flags, 'uri');
      await services.resources.delete(uri);
      print(
        `deleted resource ${uri}; no client may ask tokens for it now (tokens already issued expire as usual)`,
      );
      return;
    }
    case 'clients set-keys': {
      const clientId = required(flags, 'client-id');
      const jwks = await services.clients.setKeys(clientId, readJwksFile(flags));
      print(`client ${clientId} now authenticates with these keys: ${kids(jwks)}`);
      print(
        `(auth-server replicas use them within ${storeCacheTtlMs / 1000}s; assertions signed with a removed key are then refused)`,
      );
      return;
    }
    case 'clients delete': {
      const clientId = required(flags, 'client-id');
      await services.clients.delete(clientId);
      print(`deleted client ${clientId}; its refresh tokens are gone and its access tokens revoked`);
      return;
    }
    case 'keys list': {
      const keys = await services.storage.keys.list();
      const withNext = keys.map((key) => ({ key, next: nextChange(key, keys, services.keys.durations) }));
      if (flags.json === true) {
        print(
          JSON.stringify(
            withNext.map(({ key, next }) => ({
              kid: key.kid,
              state: key.state,
              created_at: iso(key.createdAt),
              activated_at: key.activatedAt === null ? null : iso(key.activatedAt),
              retiring_at: key.retiringAt === null ? null : iso(key.retiringAt),
              retired_at: key.retiredAt === null ? null : iso(key.retiredAt),
              compromised_at: key.compromisedAt === null ? null : iso(key.compromisedAt),
              next_state: next?.state ?? null,
              next_change_at: next === undefined ? null : iso(next.at),
            })),
          ),
        );
        return;
      }
      if (keys.length === 0) print('no signing keys yet (the auth server creates them when it first starts)');
      for (const { key, next } of withNext)
        print(
          `${key.kid}  ${key.state.padEnd(11)}  created ${iso(key.createdAt)}  ` +
            (next === undefined ? 'no further change' : `${next.state} at ${iso(next.at)}`),
        );
      return;
    }
    case 'keys rotate': {
      const { activated, retiring } = await services.keys.rotate({ force: flags.force === true });
      print(`${activated} is now active${retiring === undefined ? '' : `; ${retiring} is retiring`}`);
      print(`auth-server replicas sign with it within ${services.keys.durations.reloadIntervalSeconds}s`);
      return;
    }
    case 'keys compromise': {
      const [kid] = args;
      if (kid === undefined || args.length !== 1) throw usageError('keys compromise takes one kid');
      const outcome = await services.keys.compromise(kid);
      print(`${kid} (was ${outcome.previousState}) is unpublished and its private key destroyed`);
      if (outcome.previousState === 'active') print(`${outcome.activated} is now active`);
      print(
        `auth-server replicas stop publishing it within ${services.keys.durations.reloadIntervalSeconds}s; ` +
          'resource servers refetch the key set at their next revocation-feed poll',
      );
      return;
    }
    case 'keys reencrypt': {
      if (flags['old-secret-stdin'] !== true)
        throw usageError('--old-secret-stdin is required (secrets are never taken from the command line)');
      const count = await services.keys.reencryptFrom(await readStdin('--old-secret-stdin'));
      print(`re-encrypted ${count} signing keys under the current KEY_ENCRYPTION_SECRET`);
      return;
    }
    case 'migrate':
      print('database schema is up to date');
      return;
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

const commands = new Set([
  'users create',
  'users disable',
  'users unlock',
  'users revoke-consent',
  'clients create',
  'clients set-keys',
  'clients set-resources',
  'clients delete',
  'resources create',
  'resources update',
  'resources list',
  'resources delete',
  'keys list',
  'keys rotate',
  'keys compromise',
  'keys reencrypt',
  'migrate',
]);

/**
 * Exit codes: 0 done, else the exit status of the error's code (shared/src/errors.ts): 2 the
 * command line was wrong (`usage`), 1 the command failed. Errors are one line on stderr.
 */
async function main(): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`admin: ${message}\n`);
    return code;
  };
  const argv = process.argv.slice(2);
  // A kid is a base64url thumbprint (RFC 7638) and may begin with '-': after `keys compromise`,
  // an argument that is none of our options is the kid, not an unknown option.
  if (argv[0] === 'keys' && argv[1] === 'compromise') {
    const known = (arg: string) =>
      arg === '--' ||
      Object.entries(options).some(
        ([name, option]) =>
          arg === `--${name}` ||
          arg.startsWith(`--${name}=`) ||
          ('short' in option && arg === `-${option.short}`),
      );
    const kidAt = argv.findIndex((arg, i) => i >= 2 && arg.startsWith('-') && !known(arg));
    if (kidAt !== -1) argv.splice(kidAt, 0, '--');
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    return fail(exitStatusOf('usage'), `${(error as Error).message} (see --help)`);
  }
  const { values: flags, positionals } = parsed;
  if (flags.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  // `keys compromise <kid>` is the one command with an argument after its two words.
  const command = positionals.slice(0, 2).join(' ');
  const args = positionals.slice(2);
  if (!commands.has(command))
    return fail(exitStatusOf('usage'), `unknown command "${positionals.join(' ')}" (see --help)`);
  if (command !== 'keys compromise' && args.length > 0)
    return fail(exitStatusOf('usage'), `unexpected argument "${args.join(' ')}" (see --help)`);
  let services: Services | undefined;
  try {
    const config = loadConfig(process.env);
    // The audit trail (user, client and key changes) and warnings go to stderr as JSON lines, so
    // stdout stays machine-readable (--json).
    const logger = createLogger({ name: 'admin', level: config.logLevel, destination: process.stderr });
    services = await loadServices(config, logger);
    await run(command, args, flags, services);
    return 0;
  } catch (error) {
    // The exit status follows the error's code (the catalogue in shared/src/errors.ts); the message
    // is one line whatever it held (a ConfigError lists one problem per line).
    const code = errorCodeOf(error);
    const message = (error instanceof Error ? error.message : String(error)).replaceAll('\n', '; ');
    const prefix = code === 'invalid_config' ? 'invalid configuration: ' : '';
    const hint = code === 'usage' ? ' (see --help)' : '';
    return fail(exitStatusOf(code), `${prefix}${message}${hint}`);
  } finally {
    await services?.storage.close();
  }
}

process.exitCode = await main();
