import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';

/**
 * Dependencies point one way: from the HTTP edge down to the storage contract. Each part of
 * auth-server/src has a rank; a module imports only from parts ranked below its own (or from its
 * own folder). The composition root (main.ts, app.ts, config.ts, openapi.ts, the CLI) wires
 * everything and may import anything; nothing imports it back.
 */
const ranks: Record<string, number> = {
  root: 100,
  routes: 90,
  pages: 85,
  grants: 80,
  limits: 70,
  // The domain, each folder above the ones it builds on; peers of one rank never import each other.
  signin: 60,
  resources: 50,
  clients: 40,
  users: 40,
  tokens: 30,
  keys: 20,
  // Used by every layer: the audit trail, the domain's input error, the HTTP contract's schemas.
  common: 10,
  'storage/sql': 5,
  storage: 0,
};

const rootFiles = new Set(['main.ts', 'app.ts', 'config.ts', 'openapi.ts']);
const commonFiles = new Set(['audit.ts', 'errors.ts', 'contract.ts']);

/** The part a module (a path relative to src/) belongs to. */
function partOf(module: string): string {
  const parts = module.split('/');
  if (parts.length === 1) {
    if (rootFiles.has(module)) return 'root';
    if (commonFiles.has(module)) return 'common';
    throw new Error(`${module}: a file at the top of src/ must be listed as the composition root or common`);
  }
  if (parts[0] === 'cli') return 'root';
  if (parts[0] === 'storage' && parts[1] === 'sql') return 'storage/sql';
  const part = parts[0]!;
  if (ranks[part] === undefined) throw new Error(`${module}: the folder ${part}/ has no rank in this test`);
  return part;
}

/** Whether `from` may import `to` (both relative to src/). */
function allowed(from: string, to: string): boolean {
  const a = partOf(from);
  const b = partOf(to);
  return a === b || ranks[b]! < ranks[a]!;
}

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? modules(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [relative(srcDir, join(dir, entry.name))]
        : [],
  );
}

/** Every relative import of a module (static, dynamic and type-only), as paths relative to src/. */
function importsOf(module: string): string[] {
  const text = readFileSync(join(srcDir, module), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((specifier) =>
    relative(srcDir, resolve(dirname(join(srcDir, module)), specifier)).replace(/\.js$/, '.ts'),
  );
}

describe('import directions in auth-server/src', () => {
  test('every import points down (or stays within its folder)', () => {
    const wrong = modules(srcDir).flatMap((module) =>
      importsOf(module)
        .filter((target) => !allowed(module, target))
        .map((target) => `${module} -> ${target}`),
    );
    expect(wrong).toEqual([]);
  });

  test('the rule catches the edges it exists for', () => {
    expect(allowed('tokens/revocations.ts', 'clients/client-cache.ts')).toBe(false);
    expect(allowed('storage/sql/database.ts', 'config.ts')).toBe(false);
    expect(allowed('clients/clients.ts', 'users/users.ts')).toBe(false);
    expect(allowed('signin/authorization-request.ts', 'grants/index.ts')).toBe(false);
    expect(allowed('limits/request-limiter.ts', 'config.ts')).toBe(false);
    expect(allowed('routes/token.ts', 'grants/index.ts')).toBe(true);
    expect(allowed('clients/clients.ts', 'errors.ts')).toBe(true);
  });

  test('the CLI records no audit event: the domain operations it calls do (any other caller gets them too)', () => {
    const cli = modules(srcDir).filter((module) => partOf(module) === 'root' && module.startsWith('cli/'));
    expect(cli.length).toBeGreaterThan(0);
    for (const module of cli)
      expect(readFileSync(join(srcDir, module), 'utf8')).not.toMatch(/audit\.record\(/);
  });

  test('the scan sees the imports it checks', () => {
    expect(importsOf('app.ts')).toContain('routes/token.ts');
    expect(modules(srcDir).length).toBeGreaterThan(40);
  });
});
