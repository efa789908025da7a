// The answer as a picture: class probabilities as bars (a value for a regression, tensors for a raw model), the
// status, latency and Cache-Status, the API's error as it says it, and the request as code to copy.
import type { Answer } from './api.js';
import { read, type ClassRow, type Reading } from './answer.js';
import { formatMs, formatNumber, formatPercent, h, replace, uid } from './dom.js';
import type { ImageFile, Prepared, Protocol } from './request.js';
import { snippet, type Language, type SnippetContext } from './snippets.js';
import type { ModelInfo } from './types.js';

const STATUS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Longest text shown in a code block; Copy still copies all of it. */
const SHOWN = 20_000;
const clip = (text: string) =>
  text.length > SHOWN
    ? `${text.slice(0, SHOWN)}\n… (${text.length - SHOWN} more characters: Copy copies all)`
    : text;

export function chart(row: ClassRow): HTMLElement {
  return h(
    'ol',
    { class: 'bars', 'aria-label': 'Class probabilities' },
    ...row.classes.map((c) =>
      h(
        'li',
        { class: c.label === row.label ? 'bar bar-top' : 'bar' },
        h('span', { class: 'bar-label' }, c.label),
        h('meter', { min: 0, max: 1, value: c.p, 'aria-label': c.label }),
        h('span', { class: 'bar-value' }, formatPercent(c.p)),
      ),
    ),
  );
}

function classes(rows: ClassRow[]): HTMLElement[] {
  const [first] = rows;
  if (!first) return [h('p', {}, 'No rows in the answer.')];
  const top = (row: ClassRow) => row.classes.find((c) => c.label === row.label)?.p;
  const headline = (row: ClassRow, n?: number) =>
    h(
      'p',
      { class: 'prediction' },
      n === undefined ? 'Predicted ' : `Row ${n + 1}: `,
      h('strong', { class: 'predicted' }, row.label),
      top(row) === undefined ? '' : ` (${formatPercent(top(row) ?? 0)})`,
    );
  if (rows.length === 1) return [headline(first), chart(first)];
  const holder = h('div', { class: 'chart-holder' }, headline(first, 0), chart(first));
  const table = h(
    'table',
    { class: 'rows' },
    h('caption', {}, `${rows.length} rows`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Row'),
        h('th', { scope: 'col' }, 'Predicted'),
        h('th', { scope: 'col' }, 'Probability'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Chart')),
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map((row, n) => {
        const show = h('button', { type: 'button', class: 'small' }, 'Chart');
        show.addEventListener('click', () => replace(holder, headline(row, n), chart(row)));
        return h(
          'tr',
          {},
          h('td', {}, n + 1),
          h('td', {}, row.label),
          h('td', {}, formatPercent(top(row) ?? 0)),
          h('td', {}, show),
        );
      }),
    ),
  );
  return [holder, table];
}

function reading(result: Reading): HTMLElement[] {
  if (result.kind === 'classes') return classes(result.rows);
  if (result.kind === 'values') {
    const text = (v: number | number[]) =>
      Array.isArray(v) ? v.map(formatNumber).join(', ') : formatNumber(v);
    if (result.rows.length === 1) {
      return [
        h(
          'p',
          { class: 'prediction' },
          'Value ',
          h('strong', { class: 'predicted' }, text(result.rows[0] ?? NaN)),
        ),
      ];
    }
    return [
      h(
        'ol',
        { class: 'values' },
        ...result.rows.map((v) => h('li', {}, h('strong', { class: 'predicted' }, text(v)))),
      ),
    ];
  }
  return [
    h('p', {}, 'Output tensors:'),
    h('pre', { class: 'code' }, clip(JSON.stringify(result.tensors, null, 1))),
  ];
}

function statusLine(answer: Answer): HTMLElement {
  const cache = answer.cacheStatus ?? 'none (the cache is off, or skips this request)';
  return h(
    'p',
    { class: answer.ok ? 'status status-ok' : 'status status-error' },
    h('strong', {}, `${answer.status} ${STATUS[answer.status] ?? ''}`.trim()),
    ` · ${formatMs(answer.ms)} round trip · Cache-Status: `,
    h('code', { class: 'cache-status' }, cache),
  );
}

export function errorBox(answer: Answer): HTMLElement {
  const error = answer.error;
  return h(
    'div',
    { class: 'error-box', role: 'alert' },
    h(
      'p',
      {},
      error?.code ? h('strong', {}, `${error.code} `) : null,
      error?.error ?? `HTTP ${answer.status}`,
    ),
    answer.challenge
      ? h('p', { class: 'hint' }, 'WWW-Authenticate: ', h('code', {}, answer.challenge))
      : null,
    error?.request_id ? h('p', { class: 'hint' }, `request id ${error.request_id}`) : null,
  );
}

function segmented<T extends string>(
  legend: string,
  options: [T, string][],
  chosen: T,
  change: (value: T) => void,
): HTMLElement {
  const name = uid('choice');
  return h(
    'fieldset',
    { class: 'segmented' },
    h('legend', {}, legend),
    ...options.map(([value, label]) => {
      const input = h('input', { type: 'radio', name, value, checked: value === chosen });
      input.addEventListener('change', () => change(value));
      return h('label', { class: 'choice' }, input, label);
    }),
  );
}

/** The file the code reads from disk, for people to save where they run it. */
function fileNote(file: ImageFile): HTMLElement {
  const save = h('button', { type: 'button', class: 'small' }, `Save ${file.name}`);
  save.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([file.bytes], { type: file.type }));
    h('a', { href: url, download: file.name }).click();
    // Revoked once the download has surely started with it.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
  return h(
    'p',
    { class: 'hint' },
    `The code reads ${file.name} (${file.bytes.length} bytes) from disk. `,
    save,
  );
}

/** Copies the text to the clipboard; where there is none (plain HTTP off localhost), selects the code instead. */
function copyButton(code: HTMLElement, status: HTMLElement, text: () => string): HTMLElement {
  const copy = h('button', { type: 'button', class: 'small' }, 'Copy');
  copy.addEventListener('click', () => {
    Promise.resolve()
      .then(() => navigator.clipboard.writeText(text()))
      .then(
        () => (status.textContent = 'Copied.'),
        () => {
          getSelection()?.selectAllChildren(code);
          status.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
        },
      );
  });
  return copy;
}

function snippets(prepared: Prepared, sent: Protocol, context: SnippetContext): HTMLElement {
  let protocol = sent;
  let language: Language = 'curl';
  const code = h('code', {});
  const note = h('p', { class: 'hint' });
  const copied = h('span', { class: 'copied', role: 'status' });
  const update = () => {
    code.textContent = clip(snippet(language, protocol, prepared[protocol], context));
    note.textContent =
      language === 'python'
        ? protocol === 'v1'
          ? 'V1 with requests (pip install requests).'
          : "V2 with NVIDIA's tritonclient (pip install tritonclient[http])."
        : '';
    copied.textContent = '';
  };
  const copy = copyButton(code, copied, () => snippet(language, protocol, prepared[protocol], context));
  update();
  return h(
    'section',
    { class: 'snippets', 'aria-label': 'The request as code' },
    h('h4', {}, 'The request as code'),
    h(
      'div',
      { class: 'snippet-options' },
      segmented(
        'Protocol',
        [
          ['v1', 'V1'],
          ['v2', 'V2'],
        ],
        protocol,
        (v) => ((protocol = v), update()),
      ),
      segmented(
        'Language',
        [
          ['curl', 'curl'],
          ['python', 'Python'],
          ['fetch', 'fetch'],
        ],
        language,
        (v) => ((language = v), update()),
      ),
    ),
    note,
    prepared.v1.file ? fileNote(prepared.v1.file) : null,
    h('pre', { class: 'code' }, code),
    h('p', {}, copy, ' ', copied),
  );
}

export interface Shown {
  model: ModelInfo;
  prepared: Prepared;
  protocol: Protocol;
  answer: Answer;
  context: SnippetContext;
}

export function renderResult(
  container: HTMLElement,
  { model, prepared, protocol, answer, context }: Shown,
): void {
  replace(
    container,
    h('h4', {}, 'Answer'),
    statusLine(answer),
    ...(answer.ok ? reading(read(model, answer.body)) : [errorBox(answer)]),
    h(
      'details',
      { class: 'body' },
      h('summary', {}, 'Response body'),
      h(
        'pre',
        { class: 'code' },
        clip(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 1)),
      ),
    ),
    snippets(prepared, protocol, context),
  );
}
