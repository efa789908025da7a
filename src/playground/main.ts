// The playground page: loads the models' metadata, keeps it and the counters fresh by polling (no reload), shows
// one model at a time (#/models/<name>) with its "Try it" form, and asks for a token when the API wants one.
import './styles.css';
import { Api, type Answer } from './api.js';
import { TokenPrompt } from './auth-view.js';
import { countersFor, parsePrometheus, type Sample } from './counters.js';
import { byId, h, replace } from './dom.js';
import { batchingText, counterLine, renderFacts, renderList } from './models-view.js';
import { planFor } from './plan.js';
import type { Prepared, Protocol } from './request.js';
import { renderResult } from './result-view.js';
import { TryForm } from './try-form.js';
import type { ModelConfig, ModelInfo, ModelList, ModelStatistics } from './types.js';

const POLL_MS = 2000;

type Source<T> = { state: 'unknown' } | { state: 'absent' } | { state: 'present'; value: T };

class Playground {
  readonly #api = new Api();
  readonly #list = byId('model-list', HTMLUListElement);
  readonly #detail = byId('detail', HTMLElement);
  readonly #server = byId('server', HTMLElement);
  readonly #metricsNote = byId('metrics-note', HTMLElement);
  readonly #prompt: TokenPrompt;
  #models: ModelInfo[] | null = null;
  #listKey = '';
  #detailKey = '';
  #auth = false;
  #about = 'serval';
  readonly #configs = new Map<string, ModelConfig | null>();
  #stats: Source<ModelStatistics> = { state: 'unknown' };
  #metrics: Source<Sample[]> = { state: 'unknown' };

  constructor() {
    this.#prompt = new TokenPrompt(this.#api, () => void this.refresh());
    this.#api.onUnauthorized = (answer) => {
      this.#auth = true;
      this.#prompt.show(answer);
      if (this.#models === null) {
        replace(
          this.#detail,
          h('p', { class: 'hint' }, 'The models appear once the server accepts a token.'),
        );
      }
    };
    window.addEventListener('hashchange', () => this.#render(true));
  }

  get #selected(): string | undefined {
    const match = /^#\/models\/(.+)$/.exec(location.hash);
    return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
  }

  async start(): Promise<void> {
    const root = await this.#api.get('/');
    const about = root.body as { name?: string; version?: string };
    if (root.ok) this.#about = `${about.name ?? 'serval'} ${about.version ?? ''}`.trim();
    this.#server.textContent = this.#about;
    await this.refresh();
    const poll = async () => {
      if (!document.hidden && !this.#prompt.visible) await this.refresh().catch(() => undefined);
      setTimeout(() => void poll(), POLL_MS);
    };
    setTimeout(() => void poll(), POLL_MS);
  }

  async refresh(): Promise<void> {
    const answer = await this.#api.get('/v1/models');
    if (!answer.ok) {
      if (answer.status === 403) this.#prompt.show(answer);
      else if (answer.status !== 401) this.#listError(answer);
      return;
    }
    this.#prompt.hide();
    this.#models = (answer.body as ModelList).models;
    this.#render(false);
    await this.#refreshMetrics();
  }

  #listError(answer: Answer): void {
    replace(
      this.#list,
      h(
        'li',
        { class: 'error-box', role: 'alert' },
        `GET /v1/models: ${answer.status} ${answer.error?.error ?? ''}`,
      ),
    );
  }

  /** Renders what changed: the list, and the selected model's view only when its metadata did (keeping the form). */
  #render(focus: boolean): void {
    const models = this.#models ?? [];
    const selected = this.#selected;
    const listKey = JSON.stringify([models, selected]);
    if (listKey !== this.#listKey) {
      this.#listKey = listKey;
      renderList(this.#list, models, selected);
      const auth = this.#auth ? ' · token required' : '';
      this.#server.textContent = `${this.#about} · ${models.length} models${auth}`;
    }
    const model = models.find((m) => m.name === selected);
    const detailKey = JSON.stringify(model ?? selected ?? null);
    if (detailKey !== this.#detailKey) {
      this.#detailKey = detailKey;
      this.#renderDetail(model, selected);
      if (focus) this.#detail.querySelector('h2')?.focus();
    }
    this.#renderCounters();
  }

  #renderDetail(model: ModelInfo | undefined, selected: string | undefined): void {
    if (!model) {
      const text =
        selected === undefined
          ? 'Choose a model to see what it takes and try it.'
          : `There is no model "${selected}".`;
      replace(this.#detail, h('p', { class: 'hint' }, text));
      return;
    }
    const result = h('div', { class: 'result', 'aria-live': 'polite' });
    const send = (prepared: Prepared, protocol: Protocol, version: string | undefined) =>
      this.#send(model, prepared, protocol, version, result);
    const tryIt = model.ready
      ? h(
          'section',
          { class: 'try', 'aria-labelledby': 'try-title' },
          h('h3', { id: 'try-title' }, 'Try it'),
          new TryForm(model, planFor(model), send).element,
          result,
        )
      : this.#notReady(model);
    replace(
      this.#detail,
      h('article', { class: 'model' }, h('h2', { tabindex: -1 }, model.name), renderFacts(model), tryIt),
    );
    void this.#batching(model);
  }

  /**
   * A version that cannot be tried says why; one not loaded (models on demand, or evicted) can be loaded here: a
   * metadata request loads it, as a client's first request would.
   */
  #notReady(model: ModelInfo): HTMLElement {
    const text = `Version ${model.version} is ${model.state.toLowerCase()}: it cannot be tried.`;
    if (model.state !== 'UNAVAILABLE') return h('p', { class: 'hint' }, text);
    const status = h('span', { role: 'status' });
    const load = h('button', { type: 'button', class: 'small' }, 'Load it');
    load.addEventListener('click', () => {
      load.setAttribute('disabled', '');
      status.textContent = ' Loading…';
      void this.#api.get(`/v2/models/${encodeURIComponent(model.name)}`).then(async (answer) => {
        load.removeAttribute('disabled');
        status.textContent = answer.ok ? '' : ` ${answer.status} ${answer.error?.error ?? ''}`;
        await this.refresh();
      });
    });
    return h('p', { class: 'hint' }, text, ' ', load, status);
  }

  async #batching(model: ModelInfo): Promise<void> {
    const key = `${model.name}/${model.version}`;
    if (!this.#configs.has(key) && model.ready) {
      const answer = await this.#api.get(`/v2/models/${encodeURIComponent(model.name)}/config`);
      this.#configs.set(key, answer.ok ? (answer.body as ModelConfig) : null);
    }
    const text = batchingText(model.ready ? this.#configs.get(key) : null);
    for (const element of this.#detail.querySelectorAll<HTMLElement>(`[data-batching]`))
      element.textContent = text;
  }

  async #send(
    model: ModelInfo,
    prepared: Prepared,
    protocol: Protocol,
    version: string | undefined,
    result: HTMLElement,
  ): Promise<Answer | null> {
    result.classList.add('busy');
    try {
      const answer = await this.#api.call(prepared[protocol]);
      const context = {
        origin: location.origin,
        auth: this.#auth,
        model: model.name,
        ...(version === undefined ? {} : { version }),
      };
      renderResult(result, { model, prepared, protocol, answer, context });
      void this.#refreshMetrics();
      return answer;
    } catch (err) {
      replace(
        result,
        h('p', { class: 'error-box', role: 'alert' }, `The request failed: ${(err as Error).message}`),
      );
      return null;
    } finally {
      result.classList.remove('busy');
    }
  }

  /** Triton's statistics and Prometheus text, each read only while the server has it (404 once: never again). */
  async #refreshMetrics(): Promise<void> {
    if (this.#stats.state !== 'absent') {
      const answer = await this.#api.get('/v2/models/stats');
      if (answer.ok) this.#stats = { state: 'present', value: answer.body as ModelStatistics };
      else if (answer.status === 404) this.#stats = { state: 'absent' };
    }
    if (this.#metrics.state !== 'absent') {
      const answer = await this.#api.get('/metrics', 'text/plain');
      if (answer.ok && typeof answer.body === 'string')
        this.#metrics = { state: 'present', value: parsePrometheus(answer.body) };
      // Not served, or kept for operators (metricsAuth): the page stops asking.
      else if ([401, 403, 404].includes(answer.status)) this.#metrics = { state: 'absent' };
    }
    this.#renderCounters();
  }

  #renderCounters(): void {
    const none = this.#stats.state === 'absent' && this.#metrics.state === 'absent';
    this.#metricsNote.textContent = none
      ? 'No metrics on this server (GET /v2/models/stats and /metrics answer 404): no live counters.'
      : this.#stats.state === 'unknown' && this.#metrics.state === 'unknown'
        ? ''
        : `Live counters, refreshed every ${POLL_MS / 1000} s.`;
    const stats = this.#stats.state === 'present' ? this.#stats.value : undefined;
    const samples = this.#metrics.state === 'present' ? this.#metrics.value : undefined;
    for (const element of document.querySelectorAll<HTMLElement>('[data-counters]')) {
      const model = this.#models?.find((m) => m.name === element.dataset.counters);
      const counters = model ? countersFor(stats, samples, model.name, model.version) : undefined;
      const inDetail = this.#detail.contains(element);
      element.textContent = counters
        ? counterLine(counters)
        : none
          ? inDetail
            ? 'no metrics'
            : ''
          : inDetail
            ? 'no requests counted yet'
            : '';
    }
  }
}

void new Playground().start();
