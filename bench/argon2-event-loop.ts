/**
 * `node bench/dist/argon2-event-loop.js [calls]`: what one Argon2id password check costs the
 * event loop (the main thread's own CPU time, from /proc/self/task/<pid>/stat), called one at a
 * time so nothing else runs on it, for @node-rs/argon2's asynchronous `verify` in its variants
 * and for `verifySync` in a worker thread (the main thread only posts and receives a message);
 * and the wall time until the call returns (what the event loop waits before it runs again).
 * Run it pinned to one core (`taskset -c 1`) to see what the bench's pinned server sees.
 * Also the process's CPU per check (every thread). OWASP parameters: m=19456, t=2, p=1.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { hash, verify } from '@node-rs/argon2';

const calls = Number(process.argv[2] ?? 200);
/** Algorithm.Argon2id (2): a const enum, which this build cannot import. */
const options = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const password = 'correct horse battery staple';
const hashed = await hash(password, options);

/** This thread's CPU seconds (utime + stime of the main thread's task). */
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   const { verifySync } = require(${JSON.stringify(import.meta.resolve('@node-rs/argon2').replace('file://', ''))});
   parentPort.on('message', ({ id, hashed, password }) => parentPort.postMessage({ id, ok: verifySync(hashed, password) }));`,
  { eval: true },
);
let nextId = 0;
const pending = new Map<number, (ok: boolean) => void>();
worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
  pending.get(id)?.(ok);
  pending.delete(id);
});
const inWorker = (h: string, p: string) =>
  new Promise<boolean>((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    worker.postMessage({ id, hashed: h, password: p });
  });

const variants: Record<string, () => Promise<boolean>> = {
  'verify(hash, password)': () => verify(hashed, password),
  'verify(hash, password, options)': () => verify(hashed, password, options),
  'verify(Buffer, Buffer)': () => verify(Buffer.from(hashed), Buffer.from(password)),
  'verifySync in one worker thread': () => inWorker(hashed, password),
};
for (let round = 1; round <= 2; round++) {
  for (const [name, check] of Object.entries(variants)) {
    const main = mainThreadCpu();
    const all = process.cpuUsage();
    let returnMs = 0;
    for (let i = 0; i < calls; i++) {
      const called = performance.now();
      const checked = check();
      returnMs += performance.now() - called;
      if (!(await checked)) throw new Error(`${name} refused the password`);
    }
    const mainUs = ((mainThreadCpu() - main) / calls) * 1e6;
    const used = process.cpuUsage(all);
    const allUs = (used.user + used.system) / calls;
    console.log(
      `round ${round}, ${name}: the call returns after ${((returnMs / calls) * 1000).toFixed(0)} µs (wall); main thread CPU ${mainUs.toFixed(0)} µs, all threads ${allUs.toFixed(0)} µs per check`,
    );
  }
}
await worker.terminate();
