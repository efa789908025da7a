// Bundles the playground (src/playground) into dist/playground: content-hashed assets, their gzip and brotli twins,
// index.html pointing at them and a manifest. Run by `npm run build` after tsc; no CDN and nothing fetched at runtime.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = join(ROOT, 'src/playground');
const OUT = join(ROOT, 'dist/playground');
const ASSETS = join(OUT, 'assets');
/** Where the server serves the assets (src/http/routes/playground.ts). */
const PREFIX = '/playground/assets/';

/** The browsers the page is written for: those of the last few years, with ES2022 and CSS nesting. */
const TARGET = ['es2022', 'chrome112', 'edge112', 'firefox117', 'safari16.5'];

await rm(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { playground: join(SOURCE, 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: TARGET,
  outdir: ASSETS,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const script = outputs.find(([, o]) => o.entryPoint !== undefined);
if (!script) throw new Error('esbuild wrote no entry point');
const [scriptPath, { cssBundle }] = script;
if (cssBundle === undefined) throw new Error('main.ts imports no stylesheet');
const url = (path: string) => PREFIX + basename(path);

// index.html references the sources (./main.ts, ./styles.css), as Vite's does; the built page names the bundles.
const template = await readFile(join(SOURCE, 'index.html'), 'utf8');
const replacements: [string, string][] = [
  ['src="./main.ts"', `src="${url(scriptPath)}"`],
  ['href="./styles.css"', `href="${url(cssBundle)}"`],
];
let html = template;
for (const [from, to] of replacements) {
  if (!html.includes(from)) throw new Error(`src/playground/index.html has no ${from}`);
  html = html.replace(from, to);
}
await mkdir(OUT, { recursive: true });
await writeFile(join(OUT, 'index.html'), html);

// Precompressed twins, served by @fastify/static (preCompressed) to clients that accept them.
const sizes: Record<string, { bytes: number; gzip: number; brotli: number }> = {};
for (const [path] of outputs) {
  const file = join(ROOT, path);
  const bytes = await readFile(file);
  const gzip = gzipSync(bytes, { level: 9 });
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  await writeFile(`${file}.gz`, gzip);
  await writeFile(`${file}.br`, brotli);
  sizes[url(path)] = { bytes: bytes.length, gzip: gzip.length, brotli: brotli.length };
}

const manifest = { page: 'index.html', script: url(scriptPath), style: url(cssBundle), assets: sizes };
await writeFile(join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
const total = Object.values(sizes).reduce((sum, s) => sum + s.bytes, 0);
process.stdout.write(
  `playground: ${relative(ROOT, OUT)}/ with ${Object.keys(sizes).length} assets, ` +
    `${(total / 1024).toFixed(1)} KiB before compression\n`,
);
