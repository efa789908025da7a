// The ceiling: bare node:http (node:cluster, as many processes as Serval) answering an iris-shaped prediction.
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const port = Number(process.env.RAW_PORT ?? '0');
const host = process.env.RAW_HOST ?? '127.0.0.1';
const workers = Number(process.env.RAW_WORKERS ?? '1');

// One Serval iris prediction, byte for byte, so response sizes match Serval's.
const PREDICTION =
  '{"label":"setosa","probabilities":{"setosa":0.981583297252655,"versicolor":0.018416734412312508,"virginica":1.4506358780863593e-8}}';
const responses = new Map<number, string>();

function responseFor(instances: number): string {
  let body = responses.get(instances);
  if (body === undefined) {
    body = `{"model_name":"iris","model_version":"1","predictions":[${Array<string>(instances).fill(PREDICTION).join(',')}]}`;
    if (responses.size < 64) responses.set(instances, body);
  }
  return body;
}

function instanceCount(payload: unknown): number {
  if (typeof payload !== 'object' || payload === null || !('instances' in payload)) return 0;
  return Array.isArray(payload.instances) ? payload.instances.length : 0;
}

function serve(): void {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let status = 200;
      let payload = '{"status":"ok"}';
      if (req.method === 'POST') {
        try {
          payload = responseFor(instanceCount(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        } catch {
          status = 400;
          payload = '{"error":"invalid JSON"}';
        }
      }
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
      });
      res.end(payload);
    });
  });
  server.keepAliveTimeout = 5000; // as Serval's default keepAliveTimeoutMs
  server.listen(port, host);
  if (!cluster.isPrimary) process.on('disconnect', () => process.exit(0)); // the primary is gone
}

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve();
  // Exit through process.exit, not the default signal death, so that `node --cpu-prof` can write its profile.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
}
