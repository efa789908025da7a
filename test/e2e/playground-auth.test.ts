// The playground with authentication on, in a real browser: the token prompt, 401 and 403 as the API says them,
// the token in memory only, then a prediction with a token that has the predict scope.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { browserSkip, chooseModel, openBrowser, predicted, shot, SHOTS, type Browser } from '../browser.js';
import { startServer, type Running } from '../server.js';

const SECRET = 'a-playground-secret-of-at-least-32-characters';
const skip = browserSkip();

describe('the playground with authentication on, in Chromium', { skip }, () => {
  let server: Running;
  let browser: Browser;
  let page: Page;
  const token = (scope: string) =>
    new SignJWT({ scope })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('playground-test')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    server = await startServer({
      SERVAL_WORKERS: '1',
      SERVAL_LOG_LEVEL: 'warn',
      SERVAL_AUTH_ENABLED: 'true',
      SERVAL_JWT_SECRET: SECRET,
    });
    browser = await openBrowser([
      { status: 401, path: /^\/v1\/models$/ },
      { status: 403, path: /^\/v1\/models\/iris:predict$/ },
      { status: 404, path: /^\/(v2\/models\/stats|metrics)$/ },
    ]);
    page = browser.page;
  });
  after(async () => {
    await browser.close();
    server.child.kill('SIGKILL');
  });

  it('asks for a token, shows 401 as the API says it, and keeps the token in memory only', async () => {
    await page.goto(`${server.base}/playground`);
    const prompt = page.locator('#auth');
    await prompt.getByLabel('Bearer token').waitFor();
    await prompt.locator('strong', { hasText: 'UNAUTHORIZED' }).waitFor();
    await shot(page, 'token-prompt', false);

    await prompt.getByLabel('Bearer token').fill('not-a-token');
    await prompt.getByRole('button', { name: 'Use this token' }).click();
    await prompt.getByText(/invalid_token/).waitFor();

    const readOnly = await token('serval:read');
    await prompt.getByLabel('Bearer token').fill(readOnly);
    await prompt.getByRole('button', { name: 'Use this token' }).click();
    await prompt.waitFor({ state: 'hidden' });
    await page.locator('.model-card[data-model="iris"] .badge-ready').waitFor();
    const kept = await page.evaluate<{ local: number; session: number; cookie: string; url: string }>(
      '({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, url: location.href })',
    );
    assert.deepEqual(
      { ...kept, url: kept.url.includes(readOnly) },
      { local: 0, session: 0, cookie: '', url: false },
    );
  });

  it('shows 403 as the API says it for a token without the predict scope, then predicts with one', async () => {
    await chooseModel(page, 'iris');
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    const error = page.locator('.result .error-box');
    await error.locator('strong', { hasText: 'INSUFFICIENT_SCOPE' }).waitFor();
    await error.getByText(/error="insufficient_scope"/).waitFor();
    await shot(page, 'token-403');
    assert.match((await page.locator('.snippets code').textContent()) ?? '', /\$SERVAL_TOKEN/);

    await page.getByRole('button', { name: 'Forget the token' }).click();
    const prompt = page.locator('#auth');
    await prompt.getByLabel('Bearer token').fill(await token('serval:read serval:predict'));
    await prompt.getByRole('button', { name: 'Use this token' }).click();
    await prompt.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    assert.equal(await predicted(page), 'setosa');
  });

  it('logged no console error beyond the 401 and 403 the API answered', () => {
    assert.deepEqual(browser.errors, []);
  });
});
