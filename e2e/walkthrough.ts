// Documentation run verbatim: the ```sh blocks of a Markdown section, pasted into one shell as a
// reader would (variables carry from block to block), with what each block printed kept apart.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The bodies of the ```sh blocks in `text`, in order. */
export function shellBlocks(text: string): string[] {
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

export interface WalkthroughRun {
  status: number | null;
  stderr: string;
  /** What each block printed on stdout (fewer entries than blocks when one failed). */
  outputs: string[];
}

const marker = (index: number) => `@@ end of block ${index} @@`;

/** Runs the blocks in one `bash` with `set -euo pipefail`; stdin is /dev/null. */
export function runShellBlocks(
  blocks: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number },
): WalkthroughRun {
  const folder = mkdtempSync(join(tmpdir(), 'tessera-walkthrough-'));
  const script = join(folder, 'walkthrough.sh');
  writeFileSync(
    script,
    ['set -euo pipefail', ...blocks.flatMap((block, index) => [block, `echo '${marker(index)}'`])].join('\n'),
  );
  const result = spawnSync('bash', [script], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeout,
  });
  rmSync(folder, { recursive: true, force: true });
  const outputs: string[] = [];
  let rest = result.stdout;
  for (let index = 0; index < blocks.length; index += 1) {
    const at = rest.indexOf(`${marker(index)}\n`);
    if (at < 0) break;
    outputs.push(rest.slice(0, at));
    rest = rest.slice(at + marker(index).length + 1);
  }
  return { status: result.status, stderr: result.stderr, outputs };
}
