// Image files through the playground: an input that takes them gets a form that sends a loaded file as it is (V1:
// the file as the body; V2: base64 BYTES) and code that reads the file from disk, code that really runs; an image
// input that takes none still gets its tensor built in the page.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { read } from '../../src/playground/answer.js';
import { planFor } from '../../src/playground/plan.js';
import { prepare, type Call } from '../../src/playground/request.js';
import { snippet } from '../../src/playground/snippets.js';
import type { ModelInfo } from '../../src/playground/types.js';
import { loadedApp, MODELS, tempRepository } from '../helpers.js';
import { imageFile, IMAGES, injected, undeclared } from './calls.js';

describe('image files in the playground, over the real API', () => {
  let app: FastifyInstance;
  let models: Map<string, ModelInfo>;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await tempRepository({
      'digits-cnn/1': { from: join(MODELS, 'digits-cnn/1') },
      'digits-tensor/1': { from: join(MODELS, 'digits-cnn/1'), files: { 'model.json': await undeclared() } },
    });
    cleanup = repo.cleanup;
    app = await loadedApp({ modelRepository: repo.root });
    const list = (await app.inject('/v1/models')).json<{ models: ModelInfo[] }>().models;
    models = new Map(list.map((m) => [m.name, m]));
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  const model = (name: string) => {
    const found = models.get(name);
    assert.ok(found, `model ${name}`);
    return found;
  };
  const send = (call: Call) => app.inject(injected(call));

  it('gives the input that takes image files a form that sends files, and the one that takes none a canvas', () => {
    const cnn = model('digits-cnn');
    assert.deepEqual(cnn.inputs[0]?.parameters, { content_type: 'image' });
    assert.deepEqual(planFor(cnn), { kind: 'file', input: cnn.inputs[0], height: 8, width: 8 });
    const tensor = model('digits-tensor');
    assert.equal(tensor.inputs[0]?.parameters, undefined);
    assert.deepEqual(planFor(tensor), {
      kind: 'image',
      input: tensor.inputs[0],
      layout: 'NCHW',
      channels: 1,
      height: 8,
      width: 8,
    });
  });

  it('sends a loaded image file as it is: V1 with the file as the body, V2 as base64 BYTES; both read the digit', async () => {
    const cnn = model('digits-cnn');
    const plan = planFor(cnn);
    const cases: [string, string][] = [
      ['digit-3-8.png', '9'],
      ['digit-1-40.png', '0'],
      ['digit-2-96x64.jpg', '4'],
    ];
    for (const [name, digit] of cases) {
      const file = await imageFile(name);
      const prepared = prepare(plan, { kind: 'file', file }, 'digits-cnn');
      assert.equal(prepared.v1.path, '/v1/models/digits-cnn:predict');
      assert.equal(prepared.v1.body, undefined, 'V1: the file is the body');
      assert.equal(prepared.v1.file, file, 'the bytes it was given');
      const data = [Buffer.from(file.bytes).toString('base64')];
      const input = {
        name: 'image',
        shape: [1],
        datatype: 'BYTES',
        parameters: { content_type: 'base64' },
        data,
      };
      assert.deepEqual(prepared.v2.body, { inputs: [input] });
      assert.equal(injected(prepared.v1).headers?.['content-type'], file.type);
      for (const protocol of ['v1', 'v2'] as const) {
        const res = await send(prepared[protocol]);
        assert.equal(res.statusCode, 200, `${name} ${protocol}: ${res.body.slice(0, 300)}`);
        const reading = read(cnn, res.json());
        assert.deepEqual(reading.kind === 'classes' && reading.rows.map((r) => r.label), [digit], name);
      }
    }
  });

  it('still builds the tensor in the page for an image input that takes no files', async () => {
    const m = model('digits-tensor');
    const plan = planFor(m);
    const images = JSON.parse(await readFile(join(IMAGES, 'images.json'), 'utf8')) as {
      file: string;
      tensor?: number[];
    }[];
    const tensor = images.find((i) => i.file === 'digit-3-8.png')?.tensor;
    assert.ok(tensor);
    const prepared = prepare(plan, { kind: 'images', images: [tensor] }, m.name);
    assert.equal(prepared.v1.file, undefined);
    assert.deepEqual(prepared.v1.body, {
      instances: [[Array.from({ length: 8 }, (_, r) => tensor.slice(r * 8, r * 8 + 8))]],
    });
    for (const protocol of ['v1', 'v2'] as const) {
      const res = await send(prepared[protocol]);
      assert.equal(res.statusCode, 200, res.body);
      const reading = read(m, res.json());
      assert.deepEqual(reading.kind === 'classes' && reading.rows.map((r) => r.label), ['9']);
    }
  });

  it('shows code for a file that runs: curl in bash, fetch in Node (and requests) read it from disk, get the digit', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const context = {
      origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      auth: false,
      model: 'digits-cnn',
    };
    const dir = await mkdtemp(join(tmpdir(), 'serval-snippets-'));
    try {
      // A name the shell must quote.
      const file = { ...(await imageFile('digit-3-8.png')), name: "it's a 9.png" };
      await writeFile(join(dir, file.name), file.bytes);
      const prepared = prepare(planFor(model('digits-cnn')), { kind: 'file', file }, 'digits-cnn');
      const run = promisify(execFile);
      for (const protocol of ['v1', 'v2'] as const) {
        const shell = snippet('curl', protocol, prepared[protocol], context);
        const curl = await run('bash', ['-euo', 'pipefail', '-c', `${shell} --fail-with-body --silent`], {
          cwd: dir,
        });
        const reading = read(model('digits-cnn'), JSON.parse(curl.stdout));
        assert.deepEqual(reading.kind === 'classes' && reading.rows.map((r) => r.label), ['9'], protocol);
        await writeFile(join(dir, 'run.mjs'), snippet('fetch', protocol, prepared[protocol], context));
        const node = await run(process.execPath, ['run.mjs'], { cwd: dir });
        assert.match(node.stdout, /^200 /, protocol);
        assert.match(
          node.stdout,
          protocol === 'v1' ? /label: '9'/ : /name: 'label', datatype: 'INT64'/,
          protocol,
        );
      }
      // Python's requests where this machine has it (tritonclient, for V2, is no dependency of the tests).
      if (
        await run('python3', ['-c', 'import requests']).then(
          () => true,
          () => false,
        )
      ) {
        await writeFile(join(dir, 'run.py'), snippet('python', 'v1', prepared.v1, context));
        const python = await run('python3', ['run.py'], { cwd: dir });
        assert.match(python.stdout, /^200 \{.*'predictions': \[\{'label': '9'/);
      } else t.diagnostic('no python3 with requests here: the V1 Python snippet did not run');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
