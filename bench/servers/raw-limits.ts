/**
 * The physical limits on this core, measured the same way as the servers (ops per wall second
 * and per CPU second of this process): RS256-2048 `crypto.sign` / `crypto.verify`, and the
 * Argon2id verify at the OWASP parameters the auth server uses (m=19456 KiB, t=2, p=1).
 *
 * Usage: node raw-limits.js <sign|verify|argon2>:<milliseconds>...; prints one JSON line per run.
 */
import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { hashSync, verifySync } from '@node-rs/argon2';

type Op = 'sign' | 'verify' | 'argon2';
let keyPair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

function prepare(op: Op): () => void {
  if (op === 'argon2') {
    const password = randomBytes(24).toString('base64url');
    const stored = hashSync(password, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
    return () => {
      if (!verifySync(stored, password)) throw new Error('argon2 verify failed');
    };
  }
  keyPair ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { privateKey, publicKey } = keyPair;
  // About the size of a Tessera access token's signing input.
  const data = randomBytes(450);
  if (op === 'sign') return () => void sign('sha256', data, privateKey);
  const signature = sign('sha256', data, privateKey);
  return () => {
    if (!verify('sha256', data, publicKey, signature)) throw new Error('RSA verify failed');
  };
}

const runs = process.argv.slice(2).map((arg) => {
  const [op, ms] = arg.split(':');
  if (op !== 'sign' && op !== 'verify' && op !== 'argon2') throw new Error(`unknown op ${String(op)}`);
  return { op, durationMs: Number(ms ?? 1000) } as const;
});
for (const { op, durationMs } of runs) {
  const run = prepare(op);
  for (let i = 0; i < 3; i++) run(); // warm-up

  const startWall = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  let ops = 0;
  const deadline = startWall + BigInt(Math.round(durationMs * 1e6));
  do {
    run();
    ops += 1;
  } while (process.hrtime.bigint() < deadline);
  const cpu = process.cpuUsage(startCpu);
  const wallSeconds = Number(process.hrtime.bigint() - startWall) / 1e9;
  process.stdout.write(
    `${JSON.stringify({ op, ops, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
  );
}
