// A real browser for the playground's tests: Debian's Chromium driven by playwright-core, an empty profile, the
// console watched for errors (CSP violations included), screenshots saved where CI keeps them.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without these, Chromium reaches out to Google's services, which the closed network here refuses.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Where the screenshots go (git-ignored; CI keeps them as artifacts). */
export const SHOTS = join(ROOT, 'test-results/playground');

/**
 * The reason to skip a browser suite (no Chromium), or false. When CI is set a missing Chromium is a failure
 * instead: the calling file gets a failing test that says so.
 */
export function browserSkip(): string | false {
  const ci = !['', '0', 'false', undefined].includes(process.env.CI);
  if (existsSync(CHROMIUM)) return false;
  if (ci) {
    test('Chromium is installed (required when CI is set)', () => {
      assert.fail(`no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium`);
    });
  }
  return `no Chromium at ${CHROMIUM} (apt-get install chromium); with CI set this fails`;
}

/** An answer the API is expected to give in this run, which Chromium logs as "Failed to load resource". */
export interface Expected {
  status: number;
  path: RegExp;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors so far, but for the expected answers. */
  errors: string[];
  close: () => Promise<void>;
}

/** A browser with an empty profile and one page whose console errors are collected. */
export async function openBrowser(expected: Expected[]): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'serval-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const status = /status of (\d{3})/.exec(message.text())?.[1];
    const url = message.location().url;
    const path = url === '' ? '' : new URL(url).pathname;
    const allowed = expected.some((e) => String(e.status) === status && e.path.test(path));
    if (!allowed) errors.push(`console error: ${message.text()} (${url})`);
  });
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** The predicted label or value shown in the answer, once an answer is there. */
export async function predicted(page: Page): Promise<string> {
  const answer = page.locator('.result .predicted').first();
  await answer.waitFor();
  return (await answer.textContent()) ?? '';
}

export async function chooseModel(page: Page, name: string): Promise<void> {
  await page.locator(`.model-card[data-model="${name}"]`).click();
  await page.getByRole('heading', { level: 2, name, exact: true }).waitFor();
  // The batching line arrives last (GET .../config); once it is there the layout stays put for the mouse.
  await page.locator('[data-batching]').filter({ hasNotText: '…' }).waitFor();
}

/** Drags the mouse through points given in the canvas's own 0..1 coordinates. */
export async function draw(page: Page, points: [number, number][]): Promise<void> {
  const canvas = page.locator('canvas.pad');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  assert.ok(box, 'the drawing canvas is on screen');
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  const [first, ...rest] = points;
  assert.ok(first);
  await page.mouse.move(...at(first));
  await page.mouse.down();
  for (const point of rest) await page.mouse.move(...at(point), { steps: 4 });
  await page.mouse.up();
}
