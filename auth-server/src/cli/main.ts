import { parseArgs } from 'node:util';
import { ConfigError, createLogger } from '@tessera/shared';
import { loadConfig } from '../config.js';
import { loadServices, type Services } from '../services.js';

const usage = `usage: npm run admin -- <command>
  users create --username U --password-stdin [--scopes "a b"]
  users disable --username U
  users unlock --username U
  clients create --client-id C --grants password,client_credentials --scopes "a b" [--public] [--json]
  keys list [--json]
  migrate`;

class UsageError extends Error {}

const options = {
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  scopes: { type: 'string' },
  'client-id': { type: 'string' },
  grants: { type: 'string' },
  public: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function required(flags: Flags, name: 'username' | 'client-id' | 'grants'): string {
  const value = flags[name];
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** Reads the whole of stdin; one trailing newline (from `echo` or a here-doc) is not part of the password. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new UsageError('--password-stdin reads the password from standard input; pipe it in');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const print = (line: string) => process.stdout.write(`${line}\n`);
const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

async function run(command: string, flags: Flags, services: Services): Promise<void> {
  switch (command) {
    case 'users create': {
      if (flags['password-stdin'] !== true)
        throw new UsageError(
          '--password-stdin is required (passwords are never taken from the command line)',
        );
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
      print(`disabled user ${username}`);
      return;
    }
    case 'users unlock': {
      // Any username, known or not: locks are kept for unknown ones too (limits/login-throttle.ts).
      const username = required(flags, 'username');
      const unlocked = await services.throttle.unlock(username);
      print(unlocked ? `unlocked ${username}` : `no failed logins recorded for ${username}`);
      return;
    }
    case 'clients create': {
      const { client, secret } = await services.clients.create({
        clientId: required(flags, 'client-id'),
        grants: required(flags, 'grants'),
        scopes: flags.scopes ?? '',
        isPublic: flags.public === true,
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
      } else print('(public client: no secret)');
      return;
    }
    case 'keys list': {
      const keys = await services.storage.keys.list();
      if (flags.json === true) {
        print(
          JSON.stringify(
            keys.map((key) => ({
              kid: key.kid,
              state: key.state,
              created_at: iso(key.createdAt),
              activated_at: key.activatedAt === null ? null : iso(key.activatedAt),
              retired_at: key.retiredAt === null ? null : iso(key.retiredAt),
            })),
          ),
        );
        return;
      }
      if (keys.length === 0) print('no signing keys yet (the auth server creates one when it first starts)');
      for (const key of keys)
        print(
          `${key.kid}  ${key.state.padEnd(11)}  created ${iso(key.createdAt)}  activated ${iso(key.activatedAt)}`,
        );
      return;
    }
    case 'migrate':
      print('database schema is up to date');
      return;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

const commands = new Set([
  'users create',
  'users disable',
  'users unlock',
  'clients create',
  'keys list',
  'migrate',
]);

/** Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. Errors are one line on stderr. */
async function main(): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`admin: ${message}\n`);
    return code;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options, allowPositionals: true, strict: true });
  } catch (error) {
    return fail(2, `${(error as Error).message} (see --help)`);
  }
  const { values: flags, positionals } = parsed;
  if (flags.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const command = positionals.join(' ');
  if (!commands.has(command)) return fail(2, `unknown command "${command}" (see --help)`);
  let services: Services | undefined;
  try {
    const config = loadConfig(process.env);
    // Diagnostics go to stderr so stdout stays machine-readable (--json).
    const logger = createLogger({ name: 'admin', level: 'error', destination: process.stderr });
    services = await loadServices(config, logger);
    await run(command, flags, services);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return fail(2, `${error.message} (see --help)`);
    if (error instanceof ConfigError) return fail(1, `invalid configuration: ${error.problems.join('; ')}`);
    return fail(1, error instanceof Error ? error.message : String(error));
  } finally {
    await services?.storage.close();
  }
}

process.exitCode = await main();
