// Network helpers shared by the tests that start real servers (e2e, Redis, container).
import { createServer } from 'node:net';

/** Ports handed out in this process: the kernel may give a port it just gave again, once the first probe closed. */
const given = new Set<number>();

/** A port the kernel chose on the loopback interface, free once the probe closed. */
function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port that was free a moment ago on the loopback interface, and that no earlier call in this process gave:
 * two ports asked in a row (HTTP and gRPC, say) are never the same one.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probe();
    if (given.has(port)) continue;
    given.add(port);
    return port;
  }
}
