/**
 * Checks an OpenAPI document against the app that serves it: the document is valid OpenAPI 3.1
 * (@readme/openapi-parser, against the specification's own schema plus its extra rules), it
 * documents exactly the (method, path) pairs the Express router serves, and a real response
 * matches what is documented for its status: headers and body validated by ajv (JSON Schema
 * 2020-12, the OpenAPI 3.1 dialect, formats included).
 */
import { expect, it } from '@jest/globals';
import { compileErrors, validate as validateOpenApi } from '@readme/openapi-parser';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Express } from 'express';
import request, { type Response, type Test } from 'supertest';
import type { OpenApiDocument } from '../src/index.js';

// A CommonJS module whose export is the plugin, also as `default` (which TypeScript sees).
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

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

/** Every `METHOD /path` the document describes, HEAD and OPTIONS left out as above. */
export function listDocumentedOperations(document: OpenApiDocument): string[] {
  return Object.entries(document.paths ?? {})
    .flatMap(([path, item]) =>
      methods
        .filter((method) => item[method] !== undefined && method !== 'head' && method !== 'options')
        .map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

/** RFC 6901: a JSON pointer's reference token. */
const token = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1');

/** The value at a local JSON pointer (`/a/b`) of the document; undefined if there is none. */
function at(document: OpenApiDocument, pointer: string): unknown {
  let node: unknown = document;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Follows a `$ref` (`#/components/...`) at `pointer` to where its target is. */
function follow(document: OpenApiDocument, pointer: string): string {
  const node = at(document, pointer) as { $ref?: string } | undefined;
  return typeof node?.$ref === 'string' ? follow(document, node.$ref.slice(1)) : pointer;
}

/** ajv for one document: the document is the schema root, so `#/components/...` refs resolve. */
function createValidator(document: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  // OpenAPI's top-level fields and its schema annotations: no-ops for the validator.
  ajv.addVocabulary(['openapi', 'info', 'servers', 'tags', 'paths', 'components', 'security']);
  ajv.addVocabulary(['discriminator', 'example']);
  const root = 'urn:tessera:openapi';
  ajv.addSchema({ ...document, $id: root });
  /** Problems with `value` against the schema at `pointer`; an empty list means valid. */
  return (pointer: string, value: unknown, where: string): string[] => {
    const check = ajv.getSchema(`${root}#${pointer}`);
    if (check === undefined) return [`${where}: no schema at ${pointer}`];
    if (check(value)) return [];
    return (check.errors ?? []).map(
      (error: ErrorObject) => `${where}${error.instancePath}: ${error.message}`,
    );
  };
}

/** What the checks need of a supertest response. */
export interface ObservedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A checker of real responses to `METHOD path` against the document: the status must be
 * documented for the operation, required headers present and valid, the media type documented,
 * and a JSON body valid against the schema for that status (no body if none is documented).
 */
export function createResponseChecker(document: OpenApiDocument) {
  const validate = createValidator(document);
  return (operation: string, res: ObservedResponse): string[] => {
    const [method, path] = operation.split(' ') as [string, string];
    const operationPointer = `/paths/${token(path)}/${method.toLowerCase()}`;
    if (at(document, operationPointer) === undefined) return [`${operation} is not documented`];
    const where = `${operation} → ${res.status}`;
    const responses = at(document, `${operationPointer}/responses`) as Record<string, unknown>;
    const status = [String(res.status), `${String(res.status)[0]}XX`].find((key) => key in responses);
    if (status === undefined)
      return [`${where}: status not documented (documented: ${Object.keys(responses).join(', ')})`];
    const response = follow(document, `${operationPointer}/responses/${status}`);
    const problems: string[] = [];
    const headers = (at(document, `${response}/headers`) ?? {}) as Record<string, unknown>;
    for (const name of Object.keys(headers)) {
      const header = follow(document, `${response}/headers/${token(name)}`);
      const value = res.headers[name.toLowerCase()];
      if (value === undefined) {
        if (at(document, `${header}/required`) === true) problems.push(`${where}: missing header ${name}`);
      } else problems.push(...validate(`${header}/schema`, value, `${where} header ${name}`));
    }
    const content = at(document, `${response}/content`) as Record<string, unknown> | undefined;
    if (content === undefined) {
      if (res.text !== '' && res.text !== undefined)
        problems.push(`${where}: a body where none is documented`);
      return problems;
    }
    const contentType = res.headers['content-type'];
    const mediaType = typeof contentType === 'string' ? contentType.split(';')[0]!.trim() : '(none)';
    if (!(mediaType in content))
      return [
        ...problems,
        `${where}: media type ${mediaType} not documented (${Object.keys(content).join(', ')})`,
      ];
    const schema = `${response}/content/${token(mediaType)}/schema`;
    if (/^application\/(.+\+)?json$/.test(mediaType)) {
      let body: unknown;
      try {
        body = JSON.parse(res.text);
      } catch {
        return [...problems, `${where}: the body is not JSON`];
      }
      problems.push(...validate(schema, body, `${where} body`));
    } else problems.push(...validate(schema, res.text, `${where} body`));
    return problems;
  };
}

/** Problems with the document as OpenAPI 3.1 (the specification's schema and rules); [] if none. */
export async function findOpenApiProblems(document: OpenApiDocument): Promise<string[]> {
  const result = await validateOpenApi(structuredClone(document) as never);
  return result.valid && result.warnings.length === 0 ? [] : [compileErrors(result)];
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
 * pass: it is served at `GET /openapi.json` equal to the source, it is valid OpenAPI 3.1, it
 * documents exactly what the app serves, every documented operation and status has a case in
 * `cases`, and every case's response matches the document.
 *
 * @param app the app under test; a function, as it is usually built in `beforeAll`
 */
export function itDescribesTheServedApp(
  document: OpenApiDocument,
  app: () => Express,
  cases: ContractCase[],
): void {
  const check = createResponseChecker(document);

  it('is served at GET /openapi.json as OpenAPI 3.1, cacheable for an hour, equal to the source', async () => {
    const res = await request(app()).get('/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.body).toMatchObject({ openapi: '3.1.0' });
    expect(res.body).toEqual(JSON.parse(JSON.stringify(document)));
  });

  it('is valid OpenAPI 3.1', async () => {
    expect(await findOpenApiProblems(document)).toEqual([]);
  });

  it('documents exactly the (method, path) pairs the app serves', () => {
    expect(listDocumentedOperations(document)).toEqual(listServedOperations(app()));
  });

  it('has a request below for every documented operation and status but 405 (checked apart)', () => {
    const documented = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      methods.flatMap((method) =>
        Object.keys(item[method]?.responses ?? {})
          .filter((status) => status !== '405')
          .map((status) => `${method.toUpperCase()} ${path} ${status}`),
      ),
    );
    const covered = new Set(cases.map(({ operation, status }) => `${operation} ${status}`));
    expect(documented.filter((entry) => !covered.has(entry)).sort()).toEqual([]);
  });

  it.each(cases)(
    '$operation, $behaviour: answers $status as documented',
    async ({ operation, status, send }) => {
      const res = await send();
      expect(check(operation, res)).toEqual([]);
      expect(res.status).toBe(status);
    },
  );

  it('answers 405 with Allow naming exactly the documented methods wherever it documents 405', async () => {
    const paths = Object.entries(document.paths ?? {}).filter(([, item]) =>
      methods.some((method) => item[method]?.responses?.['405'] !== undefined),
    );
    expect(paths.length).toBeGreaterThan(0);
    for (const [path, item] of paths) {
      const documented = methods.filter((method) => item[method] !== undefined);
      const res = await request(app()).delete(path);
      const operation = `${documented[0]!.toUpperCase()} ${path}`;
      expect({ path, problems: check(operation, res), status: res.status }).toEqual({
        path,
        problems: [],
        status: 405,
      });
      const allow = res.headers.allow!.split(/, */).sort();
      const expected = documented.flatMap((method) => (method === 'get' ? ['GET', 'HEAD'] : ['POST'])).sort();
      expect({ path, allow }).toEqual({ path, allow: expected });
    }
  });
}
