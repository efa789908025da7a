// onnxruntime-node by itself, no server: one process running a model back to back on a fixed batch for a while, as
// the bench's limit for a real CNN (what this machine can do with the model at all). Run as a child process:
//   node ort-limit.mjs <model.onnx> <intra-op threads> <batch> <seconds>
// It prints one JSON line: images per second and the run latencies' p50 in ms. The input is random, seeded.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as Ort from 'onnxruntime-node';

const [modelPath, threadsArg, batchArg, secondsArg] = process.argv.slice(2);
if (modelPath === undefined || secondsArg === undefined) {
  process.stderr.write('usage: ort-limit <model.onnx> <threads> <batch> <seconds>\n');
  process.exit(2);
}
const threads = Number(threadsArg);
const batch = Number(batchArg);
const seconds = Number(secondsArg);

/** This file runs from the bench's run folder: its packages are the project's (the working directory). */
const ort = createRequire(join(process.cwd(), 'package.json'))('onnxruntime-node') as typeof Ort;

// The same session options as Serval's, but for the intra-op threads under test.
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  extra: { session: { force_spinning_stop: '1' } },
});
const [input] = session.inputNames;
if (input === undefined) throw new Error(`${modelPath} has no input`);
let seed = 1;
const data = Float32Array.from({ length: batch * 3 * 224 * 224 }, () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
});
const feeds = { [input]: new ort.Tensor('float32', data, [batch, 3, 224, 224]) };

// Warm-up: the first runs allocate and pick kernels.
for (let i = 0; i < 3; i++) await session.run(feeds);
const latencies: number[] = [];
const start = performance.now();
while (performance.now() - start < seconds * 1000) {
  const begin = performance.now();
  await session.run(feeds);
  latencies.push(performance.now() - begin);
}
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const p50 = latencies[Math.max(0, Math.ceil(latencies.length / 2) - 1)] ?? Number.NaN;
process.stdout.write(JSON.stringify({ imagesPerS: (latencies.length * batch) / elapsed, p50Ms: p50 }) + '\n');
await session.release();
