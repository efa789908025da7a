// The playground's image form in a real browser against the built server: a digit drawn on the canvas goes as a PNG
// (bright ink on dark), an image file as it is (V1 body, V2 base64), both recognised; the code shown reads the same
// file; an image input that takes no files still gets its tensor built in the page. Screenshots in
// test-results/playground/. Skipped without Chromium, except when CI is set.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page, Request } from 'playwright-core';
import sharp from 'sharp';
import {
  browserSkip,
  chooseModel,
  draw,
  openBrowser,
  predicted,
  shot,
  SHOTS,
  type Browser,
} from '../browser.js';
import { MODELS, ROOT, tempRepository } from '../helpers.js';
import { startServer, type Running } from '../server.js';

const IMAGES = join(ROOT, 'test/fixtures/images');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const skip = browserSkip();

/** The POSTs the page sends to a path from now on, in order. */
function posts(page: Page, path: string): Request[] {
  const seen: Request[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === path) seen.push(request);
  });
  return seen;
}

/** The last of them, with its Content-Type and body. */
function last(requests: Request[]): { type: string | undefined; body: Buffer } {
  const request = requests.at(-1);
  assert.ok(request, 'a request was sent');
  return { type: request.headers()['content-type'], body: request.postDataBuffer() ?? Buffer.alloc(0) };
}

async function predict(page: Page): Promise<string> {
  await page.locator('.result').evaluate((element) => element.replaceChildren());
  await page.getByRole('button', { name: 'Predict', exact: true }).click();
  return predicted(page);
}

describe('the image form of the playground in Chromium', { skip }, () => {
  let server: Running;
  let browser: Browser;
  let page: Page;
  let repository: { root: string; cleanup: () => Promise<void> };

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    // digits-cnn takes image files (its model.json declares it); digits-tensor is the same model without that.
    const cnn = JSON.parse(await readFile(join(MODELS, 'digits-cnn/1/model.json'), 'utf8')) as object;
    repository = await tempRepository({
      'digits-cnn/1': { from: join(MODELS, 'digits-cnn/1') },
      'digits-tensor/1': {
        from: join(MODELS, 'digits-cnn/1'),
        files: { 'model.json': JSON.stringify({ ...cnn, inputs: undefined }) },
      },
    });
    server = await startServer(
      { SERVAL_WORKERS: '1', SERVAL_LOG_LEVEL: 'warn', SERVAL_MODEL_REPOSITORY: repository.root },
      { loaded: true },
    );
    browser = await openBrowser([]);
    page = browser.page;
    await page.goto(`${server.base}/playground`);
  });
  after(async () => {
    await browser.close();
    server.child.kill('SIGKILL');
    await repository.cleanup();
  });

  it('sends a digit drawn on the canvas as a PNG, bright ink on dark, and shows the recognised digit', async () => {
    await chooseModel(page, 'digits-cnn');
    const requests = posts(page, '/v1/models/digits-cnn:predict');
    await draw(page, [
      [0.5, 0.12],
      [0.5, 0.5],
      [0.5, 0.88],
    ]);
    await page.locator('figcaption').getByText('Sent: the drawing, as a 256×256 PNG').waitFor();
    assert.equal(await predict(page), '1');
    const one = last(requests);
    assert.equal(one.type, 'image/png');
    assert.deepEqual(one.body.subarray(0, 8), PNG_SIGNATURE);
    // The PNG as the server reads it: the ink bright (the middle column), the paper black (a corner).
    const { data, info } = await sharp(one.body).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
    const pixels = { size: [info.width, info.height], ink: at(128, 128), paper: at(2, 2) };
    assert.deepEqual(pixels, { size: [256, 256], ink: 255, paper: 0 });
    await page.locator('.snippets code').getByText("-H 'content-type: image/png'").waitFor();
    assert.match(
      (await page.locator('.snippets code').textContent()) ?? '',
      /curl -X POST '.*\/v1\/models\/digits-cnn:predict' \\\n {2}-H 'content-type: image\/png' \\\n {2}--data-binary @drawing\.png$/,
    );
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Save drawing.png' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'drawing.png');
    assert.deepEqual(
      await readFile(await download.path()),
      one.body,
      'the file the code reads is the one sent',
    );
    await shot(page, 'digit-1');

    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    const ring = Array.from({ length: 41 }, (_, i): [number, number] => {
      const a = (i / 40) * 2 * Math.PI;
      return [0.5 + 0.25 * Math.sin(a), 0.5 - 0.36 * Math.cos(a)];
    });
    await draw(page, ring);
    assert.equal(await predict(page), '0');
    assert.equal(last(requests).type, 'image/png');
    await shot(page, 'digit-0');
  });

  it('sends a loaded image file as it is, over V1 and V2, and back to the drawing on Clear', async () => {
    const v1 = posts(page, '/v1/models/digits-cnn:predict');
    const v2 = posts(page, '/v2/models/digits-cnn/infer');
    const picker = page.getByLabel('Or load an image file');
    for (const [name, type, digit] of [
      ['digit-3-8.png', 'image/png', '9'],
      ['digit-1-40.png', 'image/png', '0'],
      ['digit-2-96x64.jpg', 'image/jpeg', '4'],
    ] as const) {
      await picker.setInputFiles(join(IMAGES, name));
      await page.locator('figcaption').getByText(`Sent as it is: ${name} (${type}`).waitFor();
      assert.equal(await predict(page), digit, name);
      const sent = last(v1);
      assert.equal(sent.type, type);
      assert.deepEqual(sent.body, await readFile(join(IMAGES, name)), `${name}: its own bytes`);
    }
    assert.match(
      (await page.locator('.snippets code').textContent()) ?? '',
      /--data-binary @digit-2-96x64\.jpg$/,
    );
    assert.ok(await page.getByLabel('Centre and scale the drawing').isDisabled(), 'fit shapes drawings only');

    await picker.setInputFiles(join(IMAGES, 'digit-3-8.png'));
    await page.locator('.try-form').getByLabel('V2 /infer').check();
    assert.equal(await predict(page), '9');
    const body = JSON.parse(last(v2).body.toString()) as { inputs: { data: string[] }[] };
    const file = await readFile(join(IMAGES, 'digit-3-8.png'));
    assert.equal(body.inputs[0]?.data[0], file.toString('base64'));
    await page.locator('.try-form').getByLabel('V1 :predict').check();
    await shot(page, 'digit-file');

    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await page.locator('figcaption').getByText('Sent: the drawing').waitFor();
    assert.equal(await picker.inputValue(), '', 'the file is forgotten');
  });

  it('draws with the keyboard too', async () => {
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await page.locator('canvas.pad').focus();
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowUp');
    await page.keyboard.press(' ');
    for (let i = 0; i < 12; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press(' ');
    await page.locator('.result').evaluate((element) => element.replaceChildren());
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    assert.equal(await predicted(page), '1');
  });

  it('still builds the tensor in the page for an image input that takes no files (digits-tensor)', async () => {
    await chooseModel(page, 'digits-tensor');
    const requests = posts(page, '/v1/models/digits-tensor:predict');
    await draw(page, [
      [0.5, 0.12],
      [0.5, 0.5],
      [0.5, 0.88],
    ]);
    assert.equal(await predict(page), '1');
    const sent = last(requests);
    assert.equal(sent.type, 'application/json');
    const { instances } = JSON.parse(sent.body.toString()) as { instances: number[][][][] };
    assert.deepEqual([instances.length, instances[0]?.length, instances[0]?.[0]?.length], [1, 1, 8]);
    await page.locator('figcaption').getByText('What the model sees (8×8, grey)').waitFor();

    // A picture as an image file, scaled to the input's size in the browser.
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await page.getByLabel('Or load an image file').setInputFiles(join(IMAGES, 'digit-1-40.png'));
    assert.equal(await predict(page), '0');
    assert.equal(last(requests).type, 'application/json');
  });

  it('logged no console error, CSP violations included', () => {
    assert.deepEqual(browser.errors, []);
  });

  it('saved its screenshots under test-results/playground/', () => {
    const saved = readdirSync(SHOTS).filter((f) => f.endsWith('.png'));
    for (const name of ['digit-1', 'digit-0', 'digit-file']) assert.ok(saved.includes(`${name}.png`), name);
  });
});
