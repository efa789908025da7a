// `npm run build`, and `npm start`'s build step (tsc, then the playground's bundle): with --if-stale it compiles only when a source is newer than the
// last build, so that a start on a current dist/ answers in about a second instead of after a full compile.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const STAMP = 'dist/.build-stamp';
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** The newest modification time under a file or folder. */
function newest(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(join(path, name))), info.mtimeMs);
}

const ifStale = process.argv.includes('--if-stale');
if (ifStale && existsSync(STAMP) && Math.max(...INPUTS.map(newest)) <= statSync(STAMP).mtimeMs)
  process.exit(0);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (status !== 0) process.exit(status ?? 1);
// tsc compiles TypeScript only: the gRPC service's .proto files, Triton's model configuration schema and the finite
// check's WebAssembly are read at run time beside the compiled code.
cpSync('src/grpc/proto', 'dist/grpc/proto', { recursive: true });
cpSync('src/core/models/triton/model_config.proto', 'dist/core/models/triton/model_config.proto');
cpSync('src/core/tensor/finite.wasm', 'dist/core/tensor/finite.wasm');
// The playground's page (src/playground, browser code outside tsc's build) is bundled by esbuild.
const page = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-playground.ts'], {
  stdio: 'inherit',
});
if (page.status !== 0) process.exit(page.status ?? 1);
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
