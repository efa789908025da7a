// `npm run build:wasm`: compiles src/core/tensor/finite.wat with wabt (the WebAssembly project's own toolkit) to
// the committed finite.wasm. `--check` only compares, for the test that keeps the two in step.
import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

const SOURCE = 'src/core/tensor/finite.wat';
const TARGET = 'src/core/tensor/finite.wasm';

export async function compile(source = readFileSync(SOURCE, 'utf8')) {
  const wabt = await wabtInit();
  const module = wabt.parseWat(SOURCE, source, { simd: true });
  try {
    module.validate();
    return Buffer.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bytes = await compile();
  if (process.argv.includes('--check')) {
    if (!bytes.equals(readFileSync(TARGET))) {
      console.error(`${TARGET} is not ${SOURCE} compiled: run npm run build:wasm`);
      process.exit(1);
    }
  } else {
    writeFileSync(TARGET, bytes);
    console.log(`${TARGET}: ${bytes.length} bytes`);
  }
}
