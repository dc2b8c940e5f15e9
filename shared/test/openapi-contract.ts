/**
 * Checks an OpenAPI document against the app that serves it: which (method, path)
 * pairs the Express router really serves, whether the document is structurally sound, and
 * whether a real response matches what is documented for it. A minimal JSON Schema validator
 * for the keywords our documents use stands in for ajv; a keyword it does not know is a
 * problem, never silently ignored.
 */
import { expect, it } from '@jest/globals';
import type { Express } from 'express';
import request, { type Response, type Test } from 'supertest';
import type {
  JsonSchema,
  OpenApiDocument,
  OpenApiMethod,
  OpenApiOperation,
  OpenApiResponse,
} from '../src/index.js';

const methods: readonly OpenApiMethod[] = [
  'get',
  'put',
  'post',
  'delete',
  'options',
  'head',
  'patch',
  'trace',
];

interface RouterLayer {
  route?: { path: string | string[]; methods: Record<string, boolean | undefined> };
  handle: { stack?: RouterLayer[] };
  rawPath?: unknown;
}

/**
 * Every `METHOD /path` the app serves, from Express 5's router stack (nested routers included),
 * with `:param` written `{param}`. HEAD, OPTIONS and `router.all()` catch-alls are left out: they
 * are implied by GET or are the 405 answers for a documented path.
 */
export function listServedOperations(app: Express): string[] {
  const served = new Set<string>();
  const walk = (stack: readonly RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on !== true || ['_all', 'head', 'options'].includes(method)) continue;
          for (const path of paths)
            served.add(`${method.toUpperCase()} ${(prefix + path).replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (Array.isArray(layer.handle.stack)) {
        if (typeof layer.rawPath !== 'string') throw new Error('a router mounted on a non-string path');
        walk(layer.handle.stack, layer.rawPath === '/' ? prefix : prefix + layer.rawPath);
      }
    }
  };
  walk((app.router as unknown as { stack: RouterLayer[] }).stack, '');
  return [...served].sort();
}

function operationsOf(document: OpenApiDocument): [method: OpenApiMethod, path: string, OpenApiOperation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    methods.flatMap((method) => {
      const operation = item[method];
      return operation === undefined ? [] : [[method, path, operation] as const];
    }),
  ) as [OpenApiMethod, string, OpenApiOperation][];
}

/** Every `METHOD /path` the document describes, HEAD and OPTIONS left out as above. */
export function listDocumentedOperations(document: OpenApiDocument): string[] {
  return operationsOf(document)
    .filter(([method]) => method !== 'head' && method !== 'options')
    .map(([method, path]) => `${method.toUpperCase()} ${path}`)
    .sort();
}

/** Resolves a local `$ref` (`#/components/...`, RFC 6901 pointer); undefined if it does not. */
export function resolveRef(document: OpenApiDocument, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = document;
  for (const token of ref.slice(2).split('/')) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function deref<T>(document: OpenApiDocument, value: T | { $ref: string }): T {
  return '$ref' in (value as object)
    ? (resolveRef(document, (value as { $ref: string }).$ref) as T)
    : (value as T);
}

const supportedKeywords = new Set([
  ...['$ref', 'type', 'const', 'enum', 'minLength', 'maxLength', 'minimum'],
  ...['properties', 'required', 'additionalProperties', 'items', 'oneOf'],
  // Annotations: they describe, they do not constrain (format is an annotation in 2020-12).
  ...['title', 'description', 'format', 'examples', 'discriminator'],
]);

/** Problems with a value against a schema (the subset above); an empty list means valid. */
export function validate(document: OpenApiDocument, schema: JsonSchema, value: unknown, at = '$'): string[] {
  const unknown = Object.keys(schema).filter((keyword) => !supportedKeywords.has(keyword));
  if (unknown.length > 0) return [`${at}: unsupported keyword ${unknown.join(', ')}`];
  const problems: string[] = [];
  if (schema.$ref !== undefined) {
    const target = resolveRef(document, schema.$ref) as JsonSchema | undefined;
    if (target === undefined) return [`${at}: unresolved ${schema.$ref}`];
    problems.push(...validate(document, target, value, at));
  }
  const typeOf = (v: unknown) =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (schema.type !== undefined) {
    const allowed: readonly string[] = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const actual = typeOf(value);
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number')))
      return [...problems, `${at}: expected ${allowed.join(' or ')}, got ${actual}`];
  }
  if (schema.const !== undefined && value !== schema.const)
    problems.push(`${at}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  if (schema.enum !== undefined && !schema.enum.includes(value as string))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: too long`);
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum)
    problems.push(`${at}: below ${schema.minimum}`);
  if (Array.isArray(value) && schema.items !== undefined) {
    const items = schema.items;
    value.forEach((item, index) => problems.push(...validate(document, items, item, `${at}[${index}]`)));
  }
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? [])
      if (!Object.hasOwn(record, name)) problems.push(`${at}: missing ${name}`);
    for (const [name, member] of Object.entries(record)) {
      const declared = schema.properties?.[name];
      const extra = schema.additionalProperties;
      if (declared !== undefined) problems.push(...validate(document, declared, member, `${at}.${name}`));
      else if (extra === false) problems.push(`${at}: unexpected member ${name}`);
      else if (typeof extra === 'object')
        problems.push(...validate(document, extra, member, `${at}.${name}`));
    }
  }
  if (schema.oneOf !== undefined) {
    const matching = schema.oneOf.filter((option) => validate(document, option, value, at).length === 0);
    if (matching.length !== 1) problems.push(`${at}: matches ${matching.length} of the oneOf schemas, not 1`);
  }
  return problems;
}

/** Every schema object in the document, with where it is, for the keyword check. */
function collectSchemas(document: OpenApiDocument): [string, JsonSchema][] {
  const found: [string, JsonSchema][] = [];
  const visit = (schema: JsonSchema, at: string) => {
    found.push([at, schema]);
    for (const [name, member] of Object.entries(schema.properties ?? {}))
      visit(member, `${at}.properties.${name}`);
    if (typeof schema.additionalProperties === 'object')
      visit(schema.additionalProperties, `${at}.additionalProperties`);
    if (schema.items !== undefined) visit(schema.items, `${at}.items`);
    schema.oneOf?.forEach((option, index) => visit(option, `${at}.oneOf[${index}]`));
  };
  const visitContainer = (node: unknown, at: string) => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'schema' && typeof child === 'object' && child !== null)
        visit(child as JsonSchema, `${at}.schema`);
      else visitContainer(child, `${at}.${key}`);
    }
  };
  visitContainer(document.paths, 'paths');
  visitContainer({ ...document.components, schemas: undefined }, 'components');
  for (const [name, schema] of Object.entries(document.components?.schemas ?? {}))
    visit(schema, `components.schemas.${name}`);
  return found;
}

/**
 * Structural problems: the version, an operation without responses or with a malformed status,
 * a response without a description, a duplicate operationId, a `$ref` that does not resolve, a
 * security requirement naming no scheme, a schema keyword the validator does not know.
 */
export function findStructuralProblems(document: OpenApiDocument): string[] {
  const problems: string[] = [];
  if (document.openapi !== '3.1.0') problems.push(`openapi is ${String(document.openapi)}`);
  if (!document.info.title || !document.info.version) problems.push('info needs title and version');
  const ids = new Set<string>();
  const schemes = Object.keys(document.components?.securitySchemes ?? {});
  for (const [method, path, operation] of operationsOf(document)) {
    const at = `${method.toUpperCase()} ${path}`;
    if (!path.startsWith('/')) problems.push(`${at}: path must start with /`);
    if (ids.has(operation.operationId))
      problems.push(`${at}: duplicate operationId ${operation.operationId}`);
    ids.add(operation.operationId);
    const responses = Object.entries(operation.responses);
    if (responses.length === 0) problems.push(`${at}: no responses`);
    for (const [status, response] of responses) {
      if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problems.push(`${at}: bad status ${status}`);
      const resolved = deref<OpenApiResponse | undefined>(document, response);
      if (typeof resolved?.description !== 'string') problems.push(`${at} ${status}: no description`);
    }
    for (const requirement of operation.security ?? document.security ?? [])
      for (const name of Object.keys(requirement))
        if (!schemes.includes(name)) problems.push(`${at}: unknown security scheme ${name}`);
  }
  const visitRefs = (node: unknown, at: string) => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref' && (typeof child !== 'string' || resolveRef(document, child) === undefined))
        problems.push(`${at}: unresolved $ref ${String(child)}`);
      else visitRefs(child, `${at}.${key}`);
    }
  };
  visitRefs(document, '#');
  for (const [at, schema] of collectSchemas(document)) {
    const unknown = Object.keys(schema).filter((keyword) => !supportedKeywords.has(keyword));
    if (unknown.length > 0) problems.push(`${at}: unsupported keyword ${unknown.join(', ')}`);
  }
  return problems;
}

/** What the checks need of a supertest response. */
export interface ObservedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Problems with a real response to `METHOD path` against the document: its status must be
 * documented for the operation, required headers present and matching their schemas, the media
 * type documented, and a JSON body valid against the schema for that status (no body if none).
 */
export function checkResponse(document: OpenApiDocument, operation: string, res: ObservedResponse): string[] {
  const [method, path] = operation.split(' ') as [string, string];
  const described = document.paths[path]?.[method.toLowerCase() as OpenApiMethod];
  if (described === undefined) return [`${operation} is not documented`];
  const at = `${operation} → ${res.status}`;
  const entry = described.responses[String(res.status)] ?? described.responses[`${String(res.status)[0]}XX`];
  if (entry === undefined)
    return [`${at}: status not documented (documented: ${Object.keys(described.responses).join(', ')})`];
  const response = deref<OpenApiResponse>(document, entry);
  const problems: string[] = [];
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    const { required, schema } = deref<{ required?: boolean; schema: JsonSchema }>(document, header);
    const value = res.headers[name.toLowerCase()];
    if (value === undefined) {
      if (required === true) problems.push(`${at}: missing header ${name}`);
    } else problems.push(...validate(document, schema, value, `${at} header ${name}`));
  }
  const contentType = res.headers['content-type'];
  if (response.content === undefined) {
    if (res.text !== '' && res.text !== undefined) problems.push(`${at}: a body where none is documented`);
    return problems;
  }
  const mediaType = typeof contentType === 'string' ? contentType.split(';')[0]!.trim() : '(none)';
  const content = response.content[mediaType];
  if (content === undefined)
    return [
      ...problems,
      `${at}: media type ${mediaType} not documented (${Object.keys(response.content).join(', ')})`,
    ];
  if (/^application\/(.+\+)?json$/.test(mediaType)) {
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      return [...problems, `${at}: the body is not JSON`];
    }
    problems.push(...validate(document, content.schema, body, `${at} body`));
  }
  return problems;
}

/** One real request against a documented operation, and the status it must get. */
export interface ContractCase {
  /** `METHOD /path` as documented. */
  operation: string;
  behaviour: string;
  status: number;
  send: () => Test | Promise<Response>;
}

/**
 * Registers, inside the caller's `describe`, the tests every service's OpenAPI document must
 * pass: it is served at `GET /openapi.json` equal to the source, it is structurally sound, it
 * documents exactly what the app serves, every documented operation has a case in `cases`,
 * and every case's response matches the document.
 *
 * @param app the app under test; a function, as it is usually built in `beforeAll`
 */
export function itDescribesTheServedApp(
  document: OpenApiDocument,
  app: () => Express,
  cases: ContractCase[],
): void {
  it('is served at GET /openapi.json as OpenAPI 3.1, cacheable for an hour, equal to the source', async () => {
    const res = await request(app()).get('/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.body).toMatchObject({ openapi: '3.1.0' });
    expect(res.body).toEqual(JSON.parse(JSON.stringify(document)));
  });

  it('is structurally sound: responses everywhere, every $ref resolves, known schema keywords only', () => {
    expect(findStructuralProblems(document)).toEqual([]);
  });

  it('documents exactly the (method, path) pairs the app serves', () => {
    expect(listDocumentedOperations(document)).toEqual(listServedOperations(app()));
  });

  it('has a request below for every documented operation', () => {
    expect([...new Set(cases.map(({ operation }) => operation))].sort()).toEqual(
      listDocumentedOperations(document),
    );
  });

  it.each(cases)(
    '$operation, $behaviour: answers $status as documented',
    async ({ operation, status, send }) => {
      const res = await send();
      expect(checkResponse(document, operation, res)).toEqual([]);
      expect(res.status).toBe(status);
    },
  );
}
