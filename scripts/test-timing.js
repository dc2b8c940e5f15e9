#!/usr/bin/env node
// npm run test:timing: the tests that hold a threshold on wall-clock time (*.timing.test.ts, see
// jest.timing.config.js), one file after another so they do not load each other. A machine busy
// with something else can push a figure over its threshold, so a file that fails is run again, up
// to `attempts` times in all; every failed attempt is printed with its figure, never hidden, and a
// test passes only if one of its attempts did. Arguments after `--` go to jest (e.g. a path).
// Ends with one line, "N passed, M failed", counting each test once by its last attempt.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const attempts = 3;
const root = fileURLToPath(new URL('..', import.meta.url));
const jest = join(root, 'node_modules/jest/bin/jest.js');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-timing-'));

/** Runs jest on `paths` (all timing tests when empty); resolves to its JSON results. */
function runJest(paths, attempt) {
  const outputFile = join(scratch, `attempt-${attempt}.json`);
  const { status } = spawnSync(
    process.execPath,
    [
      jest,
      '--config',
      'jest.timing.config.js',
      '--runInBand',
      '--json',
      `--outputFile=${outputFile}`,
      ...paths,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        NODE_OPTIONS: '--experimental-vm-modules --disable-warning=ExperimentalWarning',
      },
    },
  );
  try {
    return JSON.parse(readFileSync(outputFile, 'utf8'));
  } catch {
    console.error(`test:timing: jest wrote no results (exit ${status})`);
    return undefined;
  }
}

// The first line of a failure, without colours: the figure the test put in its message.
const reasonOf = (messages) =>
  stripVTControlCharacters(messages[0] ?? 'failed')
    .split('\n')
    .find((line) => line.trim() !== '')
    ?.trim()
    .replace(/^Error: /, '');

/** test name → { passed, attempt, reason } from the latest attempt that ran it. */
const outcomes = new Map();
let paths = process.argv.slice(2);
let broken = false;
for (let attempt = 1; attempt <= attempts; attempt += 1) {
  const results = runJest(paths, attempt);
  if (results === undefined) {
    broken = true;
    break;
  }
  const retry = new Set();
  for (const file of results.testResults) {
    const path = relative(root, file.name);
    if (file.assertionResults.length === 0) {
      // The file did not run (a compile error, a failing beforeAll): not a matter of timing.
      outcomes.set(path, { passed: false, attempt, reason: reasonOf([file.message]) });
      continue;
    }
    for (const test of file.assertionResults) {
      if (test.status === 'pending') continue;
      const name = `${path} › ${test.fullName}`;
      const passed = test.status === 'passed';
      const reason = passed ? undefined : reasonOf(test.failureMessages);
      outcomes.set(name, { passed, attempt, reason });
      if (passed) continue;
      if (attempt < attempts) {
        console.log(`test:timing: attempt ${attempt}/${attempts}: ${name}: ${reason}, retrying`);
        retry.add(file.name);
      }
    }
  }
  if (retry.size === 0) break;
  paths = [...retry];
}
rmSync(scratch, { recursive: true, force: true });

let passed = 0;
let failed = broken ? 1 : 0;
for (const [name, outcome] of outcomes) {
  if (outcome.passed) passed += 1;
  else failed += 1;
  const verdict = outcome.passed
    ? `passed on attempt ${outcome.attempt}/${attempts}`
    : `FAILED on attempt ${outcome.attempt}/${attempts}: ${outcome.reason}`;
  console.log(`test:timing: ${name}: ${verdict}`);
}
if (outcomes.size === 0 && !broken) {
  console.error('test:timing: no test ran');
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
