// /metrics on its own port (metricsPort, as Triton's 8002 and MLServer's 8082): a bare HTTP server with one route,
// no authentication (keep the port inside the cluster network), summed over every worker like the main port's.
import { createServer, type Server } from 'node:http';
import type { Core } from '../core/core.js';
import { METRICS_CONTENT_TYPE } from '../core/metrics.js';

export async function listenMetrics(core: Core, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
      return;
    }
    core.metricsText().then(
      (text) =>
        response
          .writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' })
          .end(request.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        core.log.error({ err }, 'metrics could not be gathered');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be gathered\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
