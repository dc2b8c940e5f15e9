import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The port the harness chose (PORT), as Tessera's services take it. */
export function port(): number {
  return Number(required('PORT'));
}

/** Logs where it listens and closes on SIGTERM. */
export function listening(server: Server): void {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

/** A required environment variable, or exit with one line naming it. */
export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`${name} is required\n`);
    process.exit(1);
  }
  return value;
}
