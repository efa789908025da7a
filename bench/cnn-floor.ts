// The CNN's floor: bare node:http (node:cluster, FLOOR_WORKERS processes) receiving the same V2 binary requests as
// Serval and running each through onnxruntime-node (FLOOR_THREADS intra-op threads) as it comes, answering the logits
// as a V2 binary output: what a server that runs every request through onnxruntime by itself reaches.
//   FLOOR_PORT, FLOOR_MODEL (model.onnx), FLOOR_WORKERS, FLOOR_THREADS
import cluster from 'node:cluster';
import { createServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';

const port = Number(process.env.FLOOR_PORT ?? '0');
const modelPath = process.env.FLOOR_MODEL ?? '';
const workers = Number(process.env.FLOOR_WORKERS ?? '1');
const threads = Number(process.env.FLOOR_THREADS ?? '1');

function reply(res: ServerResponse, status: number, header: string, binary?: Uint8Array): void {
  const json = Buffer.from(header);
  res.writeHead(status, {
    'content-type': binary ? 'application/octet-stream' : 'application/json',
    'content-length': json.length + (binary?.byteLength ?? 0),
    ...(binary ? { 'inference-header-content-length': json.length } : {}),
  });
  res.end(binary ? Buffer.concat([json, binary]) : json);
}

interface Header {
  inputs: { name: string; shape: number[] }[];
}

async function serve(): Promise<void> {
  const ort = createRequire(join(process.cwd(), 'package.json'))('onnxruntime-node') as typeof Ort;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { force_spinning_stop: '1' } },
  });
  const [output] = session.outputNames;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST') return reply(res, 200, '{"status":"ok"}');
      const body = Buffer.concat(chunks);
      const headerLength = Number(req.headers['inference-header-content-length']);
      let feeds: Record<string, Ort.Tensor>;
      try {
        const header = JSON.parse(body.subarray(0, headerLength).toString('utf8')) as Header;
        const [input] = header.inputs;
        if (input === undefined) throw new Error('no input');
        // An aligned copy: the body's offset within its buffer need not be a multiple of 4.
        const data = new Float32Array(
          body.buffer.slice(body.byteOffset + headerLength, body.byteOffset + body.length),
        );
        feeds = { [input.name]: new ort.Tensor('float32', data, input.shape) };
      } catch {
        return reply(res, 400, '{"error":"invalid request"}');
      }
      session.run(feeds).then(
        (results) => {
          const tensor = results[output ?? ''] as Ort.Tensor;
          const data = tensor.data as Float32Array;
          const header = JSON.stringify({
            model_name: 'mobilenet',
            model_version: '1',
            outputs: [
              {
                name: output,
                datatype: 'FP32',
                shape: tensor.dims,
                parameters: { binary_data_size: data.byteLength },
              },
            ],
          });
          reply(res, 200, header, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        },
        () => reply(res, 500, '{"error":"run failed"}'),
      );
    });
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, '127.0.0.1');
  if (!cluster.isPrimary) process.on('disconnect', () => process.exit(0));
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
  await serve();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
}
