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

/** The large fixture's V2 answer as Serval writes it, for requests with binary tensors. */
const V2_LARGE =
  '{"model_name":"large","model_version":"1","outputs":[{"name":"mean","datatype":"FP32","shape":[1,3],"data":[0.49993273615837097,0.4999663829803467,0.5]}]}';

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
      const headerLength = req.headers['inference-header-content-length'];
      if (req.method === 'POST') {
        try {
          const body = Buffer.concat(chunks);
          if (headerLength === undefined) {
            payload = responseFor(instanceCount(JSON.parse(body.toString('utf8'))));
          } else {
            JSON.parse(body.subarray(0, Number(headerLength)).toString('utf8')); // the binary part is only received
            payload = V2_LARGE;
          }
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
