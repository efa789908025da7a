// The models view: every model and version with its state, and one model's metadata (task, tensors, features,
// labels, where inference runs, batching) with its live counters.
import type { Counters } from './counters.js';
import { formatMs, formatPercent, h, replace } from './dom.js';
import { formatShape, IMAGE_TYPE_NAMES, takesImageFiles } from './plan.js';
import type { ModelConfig, ModelInfo, ModelState, TensorInfo } from './types.js';

export const modelHash = (name: string) => `#/models/${encodeURIComponent(name)}`;

function badge(state: ModelState): HTMLElement {
  return h('span', { class: `badge badge-${state.toLowerCase()}` }, state.toLowerCase());
}

function summary(model: ModelInfo): string {
  const inputs = model.features
    ? `${model.features.length} features`
    : model.inputs.map((i) => i.name).join(', ');
  const outputs = model.labels
    ? `${model.labels.length} labels`
    : model.outputs.map((o) => o.name).join(', ');
  return `${model.task} · ${inputs} → ${outputs}`;
}

/** The list of every model, each a link to its own view; the selected one marked for assistive technology. */
export function renderList(
  list: HTMLElement,
  models: readonly ModelInfo[],
  selected: string | undefined,
): void {
  replace(
    list,
    ...models.map((model) =>
      h(
        'li',
        {},
        h(
          'a',
          {
            class: 'model-card',
            href: modelHash(model.name),
            'aria-current': model.name === selected ? 'true' : undefined,
            'data-model': model.name,
          },
          h('span', { class: 'model-name' }, model.name),
          h(
            'span',
            { class: 'versions' },
            ...model.versions.map((v) =>
              h(
                'span',
                { class: 'version' },
                `v${v.version} `,
                badge(v.state),
                v.reason ? ` ${v.reason}` : '',
              ),
            ),
          ),
          h('span', { class: 'model-summary' }, summary(model)),
          h('span', { class: 'counters', 'data-counters': model.name }),
        ),
      ),
    ),
  );
}

/** The one-line counters of a card. */
export function counterLine(counters: Counters | undefined): string {
  if (!counters) return '';
  const parts = [`${counters.requests} requests`];
  if (counters.meanMs !== undefined) parts.push(`mean ${formatMs(counters.meanMs)}`);
  if (counters.p50Ms !== undefined) parts.push(`p50 ${formatMs(counters.p50Ms)}`);
  if (counters.p99Ms !== undefined) parts.push(`p99 ${formatMs(counters.p99Ms)}`);
  if (counters.cacheHitRatio !== undefined) parts.push(`cache hits ${formatPercent(counters.cacheHitRatio)}`);
  return parts.join(' · ');
}

function tensorTable(caption: string, tensors: readonly TensorInfo[]): HTMLElement {
  // A column only for models with an input that takes image files (model.json declares it).
  const files = tensors.some(takesImageFiles);
  return h(
    'table',
    { class: 'tensors' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Datatype'),
        h('th', { scope: 'col' }, 'Shape'),
        files ? h('th', { scope: 'col' }, 'Also takes') : null,
      ),
    ),
    h(
      'tbody',
      {},
      ...tensors.map((t) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, t.name),
          h('td', {}, t.datatype),
          h('td', {}, h('code', {}, formatShape(t.shape))),
          files ? h('td', {}, takesImageFiles(t) ? `image files: ${IMAGE_TYPE_NAMES}` : '') : null,
        ),
      ),
    ),
  );
}

function nameList(title: string, names: readonly string[]): HTMLElement {
  return h(
    'details',
    { class: 'names', open: names.length <= 12 },
    h('summary', {}, `${title} (${names.length})`),
    // Numbered from 0, as the API's indices are (V2 element index, class index).
    h('ol', { start: 0 }, ...names.map((n) => h('li', {}, h('code', {}, n)))),
  );
}

export function batchingText(config: ModelConfig | undefined | null): string {
  if (config === undefined) return '…';
  if (config === null) return 'unknown (the model is not ready)';
  const rows =
    config.max_batch_size > 0 ? `at most ${config.max_batch_size} rows a request` : 'no batch dimension';
  const preferred = config.dynamic_batching?.preferred_batch_size?.[0];
  if (!config.dynamic_batching) return `off; ${rows}`;
  return `dynamic: concurrent requests share one run of up to ${preferred ?? '?'} rows; ${rows}`;
}

const EXECUTION = {
  inline: 'inline (on the event loop: a fast model)',
  thread: 'threads (on worker threads: a slow model)',
};

/** The metadata part of a model's view; `counters` and `batching` are filled in as they arrive. */
export function renderFacts(model: ModelInfo): HTMLElement {
  const fact = (term: string, ...value: (Node | string)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
  return h(
    'div',
    { class: 'facts-block' },
    model.description ? h('p', { class: 'description' }, model.description) : null,
    h(
      'dl',
      { class: 'facts' },
      ...fact('State', badge(model.state), model.reason ? ` ${model.reason}` : ''),
      ...fact('Task', model.task),
      ...fact(
        'Versions',
        ...model.versions.flatMap((v) => [
          h(
            'span',
            { class: 'version' },
            `v${v.version}${v.version === model.default_version ? ' (default) ' : ' '}`,
            badge(v.state),
            v.reason ? ` ${v.reason}` : '',
          ),
          ' ',
        ]),
      ),
      ...fact('Inference', model.execution ? EXECUTION[model.execution] : 'not loaded'),
      ...fact('Batching', h('span', { 'data-batching': model.name }, batchingText(undefined))),
      ...fact('Counters', h('span', { class: 'counters', 'data-counters': model.name }, '…')),
    ),
    tensorTable('Inputs', model.inputs),
    tensorTable('Outputs', model.outputs),
    model.features ? nameList('Features', model.features) : null,
    model.labels ? nameList('Labels', model.labels) : null,
  );
}
