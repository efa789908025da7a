// The playground against a server loading models on demand: every model is listed before it is loaded, with its
// state and why, and one can be loaded from the page and then tried. Skipped without Chromium, except when CI is set.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, openBrowser, type Browser } from '../browser.js';
import { MODELS } from '../helpers.js';
import { startServer, type Running } from '../server.js';

const BUNDLED = readdirSync(MODELS);

describe('the playground with models on demand', { skip: browserSkip() }, () => {
  let server: Running;
  let browser: Browser;
  let page: Page;

  before(async () => {
    server = await startServer({
      SERVAL_WORKERS: '1',
      SERVAL_LOG_LEVEL: 'warn',
      SERVAL_MODEL_REPOSITORY: MODELS,
      SERVAL_MODEL_CONTROL: 'on-demand',
    });
    browser = await openBrowser([]);
    page = browser.page;
  });
  after(async () => {
    await browser.close();
    server.child.kill('SIGKILL');
  });

  it('lists every model before it is loaded, saying so', async () => {
    await page.goto(`${server.base}/playground`);
    for (const name of BUNDLED) {
      await page.locator(`.model-card[data-model="${name}"] .badge-unavailable`).waitFor();
    }
    const iris = page.locator('.model-card[data-model="iris"]');
    assert.match((await iris.textContent()) ?? '', /not loaded/);
  });

  it('loads a model from its page, which can then be tried', async () => {
    await page.locator('.model-card[data-model="iris"]').click();
    await page.getByText('Version 1 is unavailable: it cannot be tried.').waitFor();
    await page.getByRole('button', { name: 'Load it' }).click();
    await page.locator('.model-card[data-model="iris"] .badge-ready').waitFor();
    await page.getByRole('button', { name: 'Predict', exact: true }).waitFor();
    // The other models stay as they were: nothing else was loaded.
    await page.locator('.model-card[data-model="digits"] .badge-unavailable').waitFor();
  });

  it('logged no console error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
