/**
 * `node bench/dist/cpu-profile-summary.js <file.cpuprofile> [requests] [top]`: where a server's
 * main-thread CPU went, from a V8 CPU profile (`npm run bench -- --cpu-prof <dir>`).
 *
 * Each sample is charged to the innermost frame on its stack that is not Node.js's own code
 * (`node:` URLs and natives), so `setHeader` inside helmet counts as helmet and `crypto.verify`
 * as its caller; samples with no such frame (the HTTP parser, socket reads and writes, timers)
 * count as "node (http, net, event loop)", and anything under Node's module loader as start-up. Frames are grouped by package (`node_modules/<name>`)
 * or, for this repository's code, by file and function. With `requests` (the number of requests
 * the server answered while profiled) each group is also given in µs per request.
 * Prints the groups by time, biggest first, then the `top` (default 25) functions by self time.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, requestsText, topText] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: cpu-profile-summary <file.cpuprofile> [requests] [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const requests = requestsText === undefined || requestsText === '' ? undefined : Number(requestsText);
const top = Number(topText ?? 25);

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const special = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
function isNodeOwn(frame: CallFrame): boolean {
  return frame.url === '' || frame.url.startsWith('node:');
}
function group(frame: CallFrame): string {
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame.url);
  if (packageMatch?.[1] !== undefined) return `pkg ${packageMatch[1]}`;
  const ours = /\/(shared|resource-server|auth-server|bench)\/dist\/(.*)$/.exec(frame.url);
  if (ours !== null) return `${ours[1]}/${ours[2]} ${frame.functionName || '(anonymous)'}`;
  return frame.url;
}

/** Module loading (start-up, not requests) wherever it runs. */
const loading = new Map<number, boolean>();
function isLoading(id: number): boolean {
  const known = loading.get(id);
  if (known !== undefined) return known;
  const node = byId.get(id) as ProfileNode;
  const up = parent.get(id);
  const result =
    node.callFrame.url.startsWith('node:internal/modules') || (up !== undefined && isLoading(up));
  loading.set(id, result);
  return result;
}

/** Innermost non-Node frame of a node's stack: the group it is charged to. */
const chargedTo = new Map<number, string>();
function charge(id: number): string {
  const known = chargedTo.get(id);
  if (known !== undefined) return known;
  const node = byId.get(id) as ProfileNode;
  let result: string;
  if (special.has(node.callFrame.functionName)) result = node.callFrame.functionName;
  else if (isLoading(id)) result = '(module loading, start-up)';
  else if (!isNodeOwn(node.callFrame)) result = group(node.callFrame);
  else {
    const up = parent.get(id);
    const above = up === undefined ? '(root)' : charge(up);
    result = above === '(root)' ? 'node (http, net, event loop)' : above;
  }
  chargedTo.set(id, result);
  return result;
}

const groups = new Map<string, number>();
const self = new Map<string, number>();
let total = 0;
let idle = 0;
profile.samples.forEach((id, index) => {
  const micros = profile.timeDeltas[index] ?? 0;
  const node = byId.get(id) as ProfileNode;
  if (node.callFrame.functionName === '(idle)') {
    idle += micros;
    return;
  }
  total += micros;
  const name = charge(id);
  groups.set(name, (groups.get(name) ?? 0) + micros);
  const frame = node.callFrame;
  const selfName = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`;
  self.set(selfName, (self.get(selfName) ?? 0) + micros);
});

const row = (name: string, micros: number) =>
  `${((micros / total) * 100).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(7)} ms` +
  (requests === undefined ? '' : `  ${(micros / requests).toFixed(2).padStart(7)} µs/req`) +
  `  ${name}`;
console.log(
  `busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms` +
    (requests === undefined ? '' : `, ${requests} requests: ${(total / requests).toFixed(1)} µs/req`),
);
console.log('\ncharged to the innermost frame outside Node.js:');
for (const [name, micros] of [...groups].sort((a, b) => b[1] - a[1])) {
  if (micros / total >= 0.002) console.log(row(name, micros));
}
console.log(`\ntop ${top} functions by self time:`);
for (const [name, micros] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(row(name, micros));
