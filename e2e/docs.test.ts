// The documentation as a reader meets it: the generated configuration reference is current, every
// relative link in the Markdown files leads somewhere, and nothing points outside the repository.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { configurationReferencePath, renderConfigurationReference } from './docs/configuration-reference.js';
import { root } from './processes.js';

/** Folders that are not the repository's own text: dependencies, builds, local data, results. */
const skipped = new Set(['node_modules', 'dist', '.git', 'data', 'results', 'coverage', 'tls']);

/** Every file under `dir`, as paths relative to the repository root. */
function files(dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skipped.has(entry.name) ? [] : files(path);
    return entry.isFile() ? [relative(root, path)] : [];
  });
}

const markdownFiles = files().filter((file) => file.endsWith('.md'));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(join(root, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The relative links of a Markdown file (inline `[text](target)`), outside code blocks and spans. */
function relativeLinks(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

describe('documentation', () => {
  it('finds the Markdown files', () => {
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/configuration.md']));
  });

  it(`${configurationReferencePath} is what \`npm run docs:config\` generates from the config schemas`, async () => {
    const committed = readFileSync(join(root, configurationReferencePath), 'utf8');
    const expected = await renderConfigurationReference(root);
    if (committed !== expected)
      throw new Error(
        `${configurationReferencePath} is out of date: run \`npm run docs:config\` and commit it`,
      );
    expect(committed).toContain('`KEY_ENCRYPTION_SECRET`');
  });

  it('every relative link in a Markdown file points at a file (and heading) that exists', () => {
    const broken: string[] = [];
    for (const file of markdownFiles) {
      for (const link of relativeLinks(file)) {
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
        if (relative(root, join(root, target)).startsWith('..') || !existsSync(join(root, target))) {
          broken.push(`${file}: ${link} (no such file in the repository)`);
        } else if (anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor)) {
          broken.push(`${file}: ${link} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('no file refers to files outside the repository or to issue numbers', () => {
    const self = relative(root, new URL(import.meta.url).pathname);
    const outside = [
      // A sibling folder of the repository (a relative import of shared/ from a package is fine).
      /(?<![./])\.\.\/shared\/[A-Z]/,
      /\b(DESIGN|TOOLCHAIN|STYLE)\.md\b/,
      /\bissues? #\d+/i,
      /\(#\d+\)/,
    ];
    const found: string[] = [];
    for (const file of files()) {
      if (file === self || file === 'package-lock.json' || statSync(join(root, file)).size > 1_000_000)
        continue;
      const lines = readFileSync(join(root, file), 'utf8').split('\n');
      lines.forEach((line, index) => {
        if (outside.some((pattern) => pattern.test(line))) found.push(`${file}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});
