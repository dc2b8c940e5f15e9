import { createQueryId, type Compilable, type CompiledQuery, type Kysely, type QueryResult } from 'kysely';

/** Stands in for a value while a query is compiled; found again among the compiled parameters. */
const placeholderPrefix = '\u0000tessera-placeholder:';

/** The query, compiled, and which named value goes to each parameter position. */
interface Compiled<K extends string> {
  sql: string;
  query: CompiledQuery['query'];
  names: readonly K[];
}

/**
 * A query Kysely builds and compiles once per dialect and then runs with new values: on the
 * token endpoint's hot path Kysely's building and compiling cost about as much CPU as SQLite
 * running the statement. `build` gets a stand-in for each named value (use them where the
 * values go; their types are the caller's to keep); every stand-in must land in the compiled
 * parameters exactly once and nothing else may become a parameter (a constant such as `null` in
 * `values` is one: pass it as a named value), or the first run throws. Works on a transaction too (the
 * compiled form is the dialect's, kept per dialect adapter, which a transaction shares).
 */
export function precompile<DB, K extends string, R>(
  names: readonly K[],
  build: (db: Kysely<DB>, values: Record<K, never>) => Compilable<R>,
): (db: Kysely<DB>, values: Readonly<Record<K, unknown>>) => Promise<QueryResult<R>> {
  const byAdapter = new WeakMap<object, Compiled<K>>();
  const compile = (db: Kysely<DB>): Compiled<K> => {
    const placeholders = Object.fromEntries(names.map((name) => [name, `${placeholderPrefix}${name}`]));
    const compiled = build(db, placeholders as Record<K, never>).compile();
    const order = compiled.parameters.map((parameter) => {
      const name = typeof parameter === 'string' ? parameter.slice(placeholderPrefix.length) : '';
      if (!(
        typeof parameter === 'string' &&
        parameter.startsWith(placeholderPrefix) &&
        names.includes(name as K)
      ))
        throw new Error(`precompiled query has a parameter that is not a named value: ${compiled.sql}`);
      return name as K;
    });
    if (order.length !== names.length || new Set(order).size !== names.length)
      throw new Error(`precompiled query must use each named value exactly once: ${compiled.sql}`);
    return { sql: compiled.sql, query: compiled.query, names: order };
  };
  return (db, values) => {
    const key = db.getExecutor().adapter;
    let compiled = byAdapter.get(key);
    if (compiled === undefined) {
      compiled = compile(db);
      byAdapter.set(key, compiled);
    }
    return db.executeQuery<R>({
      sql: compiled.sql,
      query: compiled.query,
      queryId: createQueryId(),
      parameters: compiled.names.map((name) => values[name]),
    });
  };
}
