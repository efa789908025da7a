// The playground in a real browser against the built server: opens the page from /, finds every bundled model,
// predicts Iris over V1 and V2, shows the API's error next to a pasted bad value, the JSON editor, live counters;
// no console error (CSP included) on the way. The image form: playground-images.test.ts.
// Screenshots in test-results/playground/. Skipped without Chromium, except when CI is set.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, chooseModel, openBrowser, predicted, shot, SHOTS, type Browser } from '../browser.js';
import { FIXTURE_MODELS, MODELS, tempRepository } from '../helpers.js';
import { startServer, type Running } from '../server.js';

const BUNDLED = readdirSync(MODELS);
const skip = browserSkip();

describe('the playground in Chromium', { skip }, () => {
  let server: Running;
  let browser: Browser;
  let page: Page;

  let repository: { root: string; cleanup: () => Promise<void> };

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    // The bundled models, a raw model with 13 inputs (the JSON editor) and one that fails to load.
    repository = await tempRepository({
      ...Object.fromEntries(BUNDLED.map((name) => [`${name}/1`, { from: join(MODELS, name, '1') }])),
      'dtypes/1': { from: join(FIXTURE_MODELS, 'dtypes/1') },
      'broken/1': { files: { 'model.onnx': 'not an onnx file' } },
    });
    server = await startServer(
      {
        SERVAL_WORKERS: '1',
        SERVAL_LOG_LEVEL: 'warn',
        SERVAL_MODEL_REPOSITORY: repository.root,
        SERVAL_CACHE_ENABLED: 'true',
      },
      { loaded: true },
    );
    browser = await openBrowser([
      // The bad values the test sends on purpose.
      { status: 400, path: /^\/v1\/models\/(iris|dtypes):predict$/ },
    ]);
    page = browser.page;
  });
  after(async () => {
    await browser.close();
    server.child.kill('SIGKILL');
    await repository.cleanup();
  });

  it('opens from / in a browser and lists every bundled model, ready, and a failed one with its reason', async () => {
    await page.goto(`${server.base}/`);
    assert.equal(new URL(page.url()).pathname, '/playground');
    assert.equal(await page.title(), 'Serval playground');
    for (const name of [...BUNDLED, 'dtypes']) {
      await page.locator(`.model-card[data-model="${name}"] .badge-ready`).waitFor();
    }
    assert.equal(await page.locator('.model-card').count(), BUNDLED.length + 2);
    const broken = page.locator('.model-card[data-model="broken"]');
    await broken.locator('.badge-failed').waitFor();
    assert.ok(
      ((await broken.locator('.version').textContent()) ?? '').length > 'v1 failed '.length,
      'the reason',
    );
    await chooseModel(page, 'broken');
    await page.getByText('Version 1 is failed: it cannot be tried.').waitFor();
    await shot(page, 'models');
  });

  it('shows a model with its tensors, inference mode and batching', async () => {
    await chooseModel(page, 'digits-cnn');
    const facts = page.locator('.facts');
    await facts.getByText('inline (on the event loop').waitFor();
    await facts.getByText('dynamic: concurrent requests share one run').waitFor();
    const inputs = page.locator('table.tensors').first();
    await inputs.getByText('[-1, 1, 8, 8]').waitFor();
    await inputs.getByRole('cell', { name: 'image files: JPEG, PNG, WebP, GIF' }).waitFor();
    // The server's own statistics, before any request to this model.
    await page.locator('.facts .counters').getByText('0 requests').waitFor();
  });

  it('submits the Iris form and reads the predicted species, over V1 and V2', async () => {
    await chooseModel(page, 'iris');
    const values = { sepal_length: '6.7', sepal_width: '3.0', petal_length: '5.2', petal_width: '2.3' };
    for (const [name, value] of Object.entries(values))
      await page.getByLabel(name, { exact: true }).fill(value);
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    assert.equal(await predicted(page), 'virginica');
    await page.locator('.result .status').getByText('200 OK').waitFor();
    assert.match((await page.locator('.result .cache-status').textContent()) ?? '', /^serval; fwd=miss/);
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    await page.locator('.result .cache-status').getByText('serval; hit').waitFor();
    await page.locator('.bars .bar-top').getByText('virginica').waitFor();
    assert.match(
      (await page.locator('.snippets code').textContent()) ?? '',
      /curl -X POST '.*\/v1\/models\/iris:predict'/,
    );
    await shot(page, 'iris');

    await page.locator('.try-form').getByLabel('V2 /infer').check();
    await page.locator('.result').evaluate((element) => element.replaceChildren());
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    assert.equal(await predicted(page), 'virginica');
    await page.locator('.snippets').getByLabel('Python').check();
    const python = (await page.locator('.snippets code').textContent()) ?? '';
    assert.match(python, /httpclient\.InferInput\("input", \[1, 4\], "FP32"\)/);
    await page.locator('.try-form').getByLabel('V1 :predict').check();
  });

  it("shows the API's error message next to the field holding a pasted bad value", async () => {
    const field = page.getByLabel('petal_length', { exact: true });
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.evaluate("navigator.clipboard.writeText('abc')");
    await field.fill('');
    await field.focus();
    await page.keyboard.press('Control+V');
    assert.equal(await field.inputValue(), 'abc', 'pasted from the clipboard');
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    const errorId = await field.getAttribute('aria-describedby');
    const message = page.locator(`[id="${errorId}"]`);
    await message.getByText('petal_length must be a finite number').waitFor();
    assert.match(
      (await message.textContent()) ?? '',
      /^instances\[0\]\.petal_length must be a finite number within the FP32 range, got "abc"$/,
    );
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await page.locator('.result .error-box').getByText('INVALID_INPUT').waitFor();
    await shot(page, 'iris-bad-value');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.locator('.snippets').getByText('Copied.').waitFor();
    const copied = await page.evaluate<string>('navigator.clipboard.readText()');
    assert.equal(copied, await page.locator('.snippets code').textContent());
    assert.ok(copied.includes('"petal_length":"abc"'), 'the exact request, the bad value included');
    await field.fill('5.2');
    assert.equal(await message.textContent(), '', 'typing clears the message');
  });

  it('predicts pasted CSV rows', async () => {
    await page.getByText('Paste CSV rows').click();
    await page.getByLabel(/One instance a line/).fill('5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.7,2.8,4.1,1.3');
    await page.getByRole('button', { name: 'Predict these rows' }).click();
    const table = page.locator('.result table.rows');
    await table.waitFor();
    const labels = await table.locator('tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(labels, ['setosa', 'virginica', 'versicolor']);
  });

  it("gives other tensors a JSON editor, with the API's message next to it", async () => {
    await chooseModel(page, 'dtypes');
    const editor = page.getByLabel('Input tensors by name, batch included (JSON)');
    const prefilled = await editor.inputValue();
    assert.match(prefilled, /"int8_in": \[\[0,0\]\]/);
    await editor.fill('{"bool_in": [[true, false]');
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    await page
      .locator('.try-form .field-error')
      .getByText(/^Not valid: /)
      .waitFor();
    await editor.fill(prefilled.replace('"int8_in": [[0,0]]', '"int8_in": [[0,300]]'));
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    await page.locator('.try-form .field-error').getByText('int8_in').waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
  });

  it('fills the fraud model one field per input', async () => {
    await chooseModel(page, 'fraud');
    await page.getByLabel('amount (FP32)').fill('950');
    await page.getByLabel('items (INT64)').fill('9');
    await page.getByLabel('country (BYTES)').fill('BR');
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    assert.equal(await predicted(page), 'fraud');
  });

  it('is usable from the keyboard and at phone width', async () => {
    await page.locator('.model-card[data-model="diabetes"]').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 2, name: 'diabetes' }).waitFor();
    assert.equal(
      await page.evaluate('document.activeElement.textContent'),
      'diabetes',
      'focus moves to the model',
    );
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    assert.match(await predicted(page), /^\d+(\.\d+)?$/);
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px at 390 px`);
    await shot(page, 'phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('shows live counters, refreshed without a reload, when the server has metrics (answered by the test)', async () => {
    // The metrics endpoints come later (GET /v2/models/stats, GET /metrics): this page gets their shapes here.
    const metricsPage = await browser.context.newPage();
    let requests = 40;
    await metricsPage.route('**/v2/models/stats', (route) => {
      requests += 10;
      const success = { count: requests, ns: requests * 2_500_000 };
      const stats = {
        name: 'iris',
        version: '1',
        inference_count: requests,
        execution_count: requests,
        inference_stats: { success, fail: { count: 0, ns: 0 } },
      };
      return route.fulfill({ json: { model_stats: [stats] } });
    });
    const buckets = [
      ['0.001', 10],
      ['0.005', 90],
      ['0.01', 99],
      ['+Inf', 100],
    ];
    const metrics = [
      ...buckets.map(
        ([le, n]) =>
          `serval_inference_request_duration_seconds_bucket{model="iris",version="1",protocol="v1",le="${le}"} ${n}`,
      ),
      'serval_inference_request_duration_seconds_sum{model="iris",version="1",protocol="v1"} 0.3',
      'serval_inference_request_duration_seconds_count{model="iris",version="1",protocol="v1"} 100',
      'serval_cache_requests_total{result="hit"} 3',
      'serval_cache_requests_total{result="miss"} 1',
    ].join('\n');
    await metricsPage.route('**/metrics', (route) =>
      route.fulfill({ body: metrics, contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
    );
    await metricsPage.goto(`${server.base}/playground#/models/iris`);
    const card = metricsPage.locator('.model-card[data-model="iris"] .counters');
    await card.getByText('p50 3.00 ms · p99 10.0 ms · cache hits 75 %').waitFor();
    const first = (await card.textContent()) ?? '';
    assert.match(first, /^\d+ requests · mean 2\.50 ms/);
    await metricsPage.getByText('Live counters, refreshed every 2 s.').waitFor();
    await metricsPage.locator('.facts .counters').getByText('cache hits 75 %').waitFor();
    await card.filter({ hasNotText: first }).waitFor({ timeout: 6000 });
    assert.equal(await metricsPage.locator('.model-card[data-model="digits"] .counters').textContent(), '');
    await shot(metricsPage, 'counters', false);
    await metricsPage.close();
  });

  it('logged no console error, CSP violations included', () => {
    assert.deepEqual(browser.errors, []);
  });

  it('saved its screenshots under test-results/playground/', (t) => {
    const saved = readdirSync(SHOTS).filter((f) => f.endsWith('.png'));
    for (const name of ['models', 'iris', 'iris-bad-value', 'phone', 'counters']) {
      assert.ok(saved.includes(`${name}.png`), name);
    }
    t.diagnostic(`screenshots in ${SHOTS}`);
  });
});
