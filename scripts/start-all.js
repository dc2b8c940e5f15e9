// `npm start`: both services with development defaults, each in its own process and
// working directory (so the auth server's ./data is auth-server/data, the same store
// `npm run admin` uses). Ctrl-C or SIGTERM stops both; if one dies, the other is stopped.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const services = ['auth-server', 'resource-server'].map((name) =>
  spawn(process.execPath, ['dist/src/main.js'], { cwd: `${root}${name}`, stdio: 'inherit' }),
);

let stopping = false;
function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of services) if (child.exitCode === null) child.kill(signal);
}

for (const child of services) {
  child.on('exit', (code) => {
    if (!stopping) process.exitCode = code ?? 1;
    stopAll('SIGTERM');
  });
}
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
