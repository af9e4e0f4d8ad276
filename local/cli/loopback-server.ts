// What `serve` and `serve --stack` share: a server on loopback only, held until Ctrl-C.
import { once } from 'node:events';
import type { Server } from 'node:http';

/** Listens on 127.0.0.1 at `port` (0: any free one); resolves with the port it got. */
export async function listenOnLoopback(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** Resolves on the first SIGINT or SIGTERM (Ctrl-C, or a service manager's stop). */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Stops listening, and ends the console's event streams, which would otherwise stay open. */
export function closeServer(server: Server): void {
  server.close();
  server.closeAllConnections();
}
