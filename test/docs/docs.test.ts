// The documentation stays true: the generated configuration page, the error table, every link and anchor, and the
// README as a landing page.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { configPage, CONFIG_PAGE } from '../../scripts/config-doc.js';
import { errors } from '../../src/core/errors.js';
import { httpErrors, statusOf } from '../../src/http/errors.js';
import { failureOf, STATUS_NAMES } from '../../src/grpc/status.js';
import { ROOT } from '../helpers.js';

const DOCS = join(ROOT, 'docs');
const PAGES = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f)),
];
const read = (path: string) => readFileSync(path, 'utf8');

/** The text outside fenced code blocks and inline code spans: where Markdown links and headings live. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens; repeats get -1, -2... */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, text = ''] of withoutCode.matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    // Links and images count by their text, inline HTML not at all; code and emphasis marks go with punctuation.
    const plain = text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const slug = plain
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Every relative link and anchor of a page that points nowhere, as "target: why". */
function brokenLinks(page: string, markdown: string): string[] {
  const broken: string[] = [];
  for (const [, target = ''] of prose(markdown).matchAll(
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
  )) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and the like
    const [path = '', anchor] = target.split('#', 2);
    const file = path === '' ? page : join(dirname(page), decodeURIComponent(path));
    if (!existsSync(file)) {
      broken.push(`${target}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(file).isDirectory() || !file.endsWith('.md')) {
      broken.push(`${target}: an anchor into something that is not a Markdown page`);
    } else if (!anchorsOf(read(file)).has(anchor)) {
      broken.push(`${target}: no heading with that anchor in ${relative(ROOT, file)}`);
    }
  }
  return broken;
}

describe('the documentation', () => {
  it('has docs/configuration.md exactly as scripts/config-doc.ts writes it (npm run docs:config)', async () => {
    const committed = read(CONFIG_PAGE).split('\n');
    const generated = (await configPage()).split('\n');
    const at = committed.findIndex((line, i) => line !== generated[i]);
    const first =
      at === -1 && committed.length !== generated.length ? Math.min(committed.length, generated.length) : at;
    assert.equal(
      first,
      -1,
      `docs/configuration.md differs from line ${first + 1} (run npm run docs:config):\n` +
        `committed: ${committed[first] ?? '(end)'}\ngenerated: ${generated[first] ?? '(end)'}`,
    );
  });

  it('has no relative link or #anchor that points nowhere, in README.md and docs/*.md', () => {
    for (const page of PAGES) assert.deepEqual(brokenLinks(page, read(page)), [], relative(ROOT, page));
  });

  it('finds a broken file, a broken anchor and an anchor into a non-page', () => {
    const page = join(DOCS, 'api.md');
    const text =
      '[a](missing.md) [b](#no-such-heading) [c](security.md#nowhere) [d](playground.png#x) [e](#errors)';
    assert.deepEqual(
      brokenLinks(page, text).map((line) => line.split(':')[0]),
      ['missing.md', '#no-such-heading', 'security.md#nowhere', 'playground.png#x'],
    );
  });

  it('makes anchors as GitHub does', () => {
    const anchors = anchorsOf(
      '# Operating: the model repository, metrics\n## `model.json`\n## Why Fastify, why ONNX\n## A\n## A\n```\n# not a heading\n```',
    );
    assert.deepEqual(
      [...anchors],
      ['operating-the-model-repository-metrics', 'modeljson', 'why-fastify-why-onnx', 'a', 'a-1'],
    );
  });

  it('lists every error code in docs/api.md with its HTTP status and gRPC status', () => {
    const rows = new Map<string, string[]>();
    for (const [, code = '', ...cells] of read(join(DOCS, 'api.md')).matchAll(
      /^\| `([A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*`?([A-Z_]+|—)`?\s*\|/gm,
    )) {
      rows.set(code, cells);
    }
    for (const [code, Type] of Object.entries(errors)) {
      const error = new Type('x', 'y');
      const grpc = STATUS_NAMES[failureOf(error).code];
      assert.deepEqual(rows.get(code), [String(statusOf(error)), grpc], code);
    }
    for (const [code, Type] of Object.entries(httpErrors)) {
      assert.deepEqual(rows.get(code), [String(statusOf(new Type('x', 'y'))), '—'], code);
    }
  });

  it('keeps the README a landing page that shows the test command', () => {
    const readme = read(join(ROOT, 'README.md'));
    assert.ok(
      readme.split('\n').length <= 250,
      'README.md has more than 250 lines: move the detail to docs/',
    );
    assert.match(readme, /^npm test\b/m);
    assert.match(readme, /apt-get install redis-server chromium/);
  });

  it('states what is true rather than how it came to be', () => {
    const history =
      /\bissue \d|\bissue #\d|\b(this|last|previous) session\b|\bsession \d|before this change|9\.14/i;
    for (const page of PAGES) {
      const found = history.exec(read(page));
      assert.equal(found, null, `${relative(ROOT, page)}: "${found?.[0] ?? ''}"`);
    }
  });
});
