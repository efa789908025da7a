// "Try it": a form generated from a model's plan (fields, CSV rows, a canvas and a file, or a JSON editor) that sends
// one request and puts the API's error message next to the field it names.
import type { Answer } from './api.js';
import { parseCsv } from './csv.js';
import { h, uid } from './dom.js';
import { ImageFileInput } from './image-file-input.js';
import { ImageInput } from './image-input.js';
import { exampleTensors, exampleValue, parseValue, type Field, type Plan } from './plan.js';
import { locate, prepare, type Payload, type Prepared, type Protocol } from './request.js';
import type { ModelInfo } from './types.js';

export type Send = (
  prepared: Prepared,
  protocol: Protocol,
  version: string | undefined,
) => Promise<Answer | null>;

interface FieldControl {
  input: HTMLInputElement;
  error: HTMLElement;
}

export class TryForm {
  readonly element: HTMLFormElement;
  readonly #model: ModelInfo;
  readonly #plan: Plan;
  readonly #send: Send;
  readonly #fields = new Map<string, FieldControl>();
  readonly #formError: HTMLElement;
  #protocol: Protocol = 'v1';
  #version: string | undefined;
  #csv: { text: HTMLTextAreaElement; error: HTMLElement } | undefined;
  #json: { text: HTMLTextAreaElement; error: HTMLElement } | undefined;
  #image: ImageInput | undefined;
  #imageFile: ImageFileInput | undefined;

  constructor(model: ModelInfo, plan: Plan, send: Send) {
    this.#model = model;
    this.#plan = plan;
    this.#send = send;
    this.#formError = h('p', { class: 'form-error', role: 'alert' });
    this.element = h('form', { class: 'try-form', novalidate: true, 'aria-label': `Try ${model.name}` });
    // An input that takes image files takes them whatever its datatype.
    const half = plan.kind !== 'file' && model.inputs.some((i) => i.datatype === 'FP16');
    this.element.append(
      half
        ? h(
            'p',
            { class: 'hint' },
            'FP16 inputs travel only as binary tensors (V2), which this form does not send.',
          )
        : '',
      this.#options(),
      ...this.#body(),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Predict'),
        this.#formError,
      ),
    );
    this.element.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#submit('form');
    });
  }

  #options(): HTMLElement {
    const name = uid('protocol');
    const radio = (value: Protocol, label: string) => {
      const input = h('input', { type: 'radio', name, value, checked: value === this.#protocol });
      input.addEventListener('change', () => (this.#protocol = value));
      return h('label', { class: 'choice' }, input, label);
    };
    const ready = this.#model.versions.filter((v) => v.state === 'READY');
    const versionId = uid('version');
    const select = h(
      'select',
      { id: versionId },
      h('option', { value: '' }, `default (${this.#model.default_version})`),
      ...ready.map((v) => h('option', { value: v.version }, `version ${v.version}`)),
    );
    select.addEventListener('change', () => (this.#version = select.value === '' ? undefined : select.value));
    return h(
      'div',
      { class: 'options' },
      h(
        'fieldset',
        { class: 'segmented' },
        h('legend', {}, 'Protocol'),
        radio('v1', 'V1 :predict'),
        radio('v2', 'V2 /infer'),
      ),
      ready.length > 1
        ? h('p', { class: 'version-choice' }, h('label', { for: versionId }, 'Version '), select)
        : null,
    );
  }

  #field(field: Field, label: string): HTMLElement {
    const id = uid('field');
    const error = h('p', { class: 'field-error', id: `${id}-error` });
    const bool = field.datatype === 'BOOL';
    const input = h('input', {
      id,
      name: field.key,
      type: bool ? 'checkbox' : 'text',
      inputmode:
        field.datatype === 'BYTES' || bool ? undefined : /INT/.test(field.datatype) ? 'numeric' : 'decimal',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': error.id,
    });
    if (!bool) input.value = String(exampleValue(field.datatype));
    input.addEventListener('input', () => this.#clearField(field.key));
    this.#fields.set(field.key, { input, error });
    return h(
      'div',
      { class: bool ? 'field field-bool' : 'field' },
      h('label', { for: id }, label),
      input,
      error,
    );
  }

  #body(): HTMLElement[] {
    const plan = this.#plan;
    if (plan.kind === 'features' || plan.kind === 'fields') {
      const legend =
        plan.kind === 'features' ? `Features of ${plan.input.name} (${plan.input.datatype})` : 'Inputs';
      const label = (f: Field) => (plan.kind === 'fields' ? `${f.key} (${f.datatype})` : f.key);
      return [
        h(
          'fieldset',
          { class: 'fields' },
          h('legend', {}, legend),
          ...plan.fields.map((f) => this.#field(f, label(f))),
        ),
        this.#csvBlock(plan.fields),
      ];
    }
    if (plan.kind === 'file') {
      this.#imageFile = new ImageFileInput(plan, (message) => this.#showFormError(message));
      return [this.#imageFile.element];
    }
    if (plan.kind === 'image') {
      this.#image = new ImageInput(plan, (message) => this.#showFormError(message));
      return [this.#image.element];
    }
    return [this.#jsonBlock(plan)];
  }

  #csvBlock(fields: readonly Field[]): HTMLElement {
    const id = uid('csv');
    const text = h('textarea', {
      id,
      rows: 4,
      spellcheck: 'false',
      'aria-describedby': `${id}-error`,
      placeholder: fields.map((f) => f.key).join(','),
    });
    const error = h('p', { class: 'field-error', id: `${id}-error` });
    this.#csv = { text, error };
    const button = h('button', { type: 'button' }, 'Predict these rows');
    button.addEventListener('click', () => void this.#submit('csv'));
    return h(
      'details',
      { class: 'csv' },
      h('summary', {}, 'Paste CSV rows'),
      h(
        'label',
        { for: id },
        `One instance a line, ${fields.length} values in the order above; a first line of names sets another order.`,
      ),
      text,
      error,
      button,
    );
  }

  #jsonBlock(plan: Plan & { kind: 'json' }): HTMLElement {
    const id = uid('json');
    const text = h('textarea', {
      id,
      rows: 8,
      spellcheck: 'false',
      class: 'json',
      'aria-describedby': `${id}-error`,
    });
    // One input a line, each tensor compact.
    const lines = Object.entries(exampleTensors(plan.inputs)).map(
      ([n, t]) => `  ${JSON.stringify(n)}: ${JSON.stringify(t)}`,
    );
    text.value = `{\n${lines.join(',\n')}\n}`;
    const error = h('p', { class: 'field-error', id: `${id}-error` });
    this.#json = { text, error };
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id }, 'Input tensors by name, batch included (JSON)'),
      text,
      error,
    );
  }

  async #payload(source: 'form' | 'csv'): Promise<Payload | null> {
    const plan = this.#plan;
    if (plan.kind === 'features' || plan.kind === 'fields') {
      if (source === 'csv' && this.#csv) {
        try {
          return { kind: 'rows', ...parseCsv(this.#csv.text.value, plan.fields) };
        } catch (err) {
          this.#csv.error.textContent = (err as Error).message;
          return null;
        }
      }
      const row = plan.fields.map((f) => {
        const input = this.#fields.get(f.key)?.input;
        if (f.datatype === 'BOOL') return input?.checked ?? false;
        return parseValue(input?.value ?? '', f.datatype);
      });
      return { kind: 'rows', columns: plan.fields.map((f) => f.key), rows: [row] };
    }
    if (this.#imageFile) {
      try {
        return { kind: 'file', file: await this.#imageFile.file() };
      } catch (err) {
        this.#showFormError(`The image could not be read: ${(err as Error).message}`);
        return null;
      }
    }
    if (this.#image) return { kind: 'images', images: [this.#image.values()] };
    if (this.#json) {
      try {
        const tensors: unknown = JSON.parse(this.#json.text.value);
        if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors))
          throw new Error('an object of tensors by input name is expected');
        return { kind: 'tensors', tensors: tensors as Record<string, unknown> };
      } catch (err) {
        this.#json.error.textContent = `Not valid: ${(err as Error).message}`;
        this.#json.text.setAttribute('aria-invalid', 'true');
        return null;
      }
    }
    return null;
  }

  #clearField(key: string): void {
    const control = this.#fields.get(key);
    if (!control) return;
    control.error.textContent = '';
    control.input.removeAttribute('aria-invalid');
  }

  #clearErrors(): void {
    for (const key of this.#fields.keys()) this.#clearField(key);
    for (const block of [this.#csv, this.#json]) {
      if (!block) continue;
      block.error.textContent = '';
      block.text.removeAttribute('aria-invalid');
    }
    this.#formError.textContent = '';
  }

  #showFormError(message: string): void {
    this.#formError.textContent = message;
  }

  /** The API's message where it belongs: the field it names, the CSV row, the editor, or under the button. */
  #showError(answer: Answer, source: 'form' | 'csv'): void {
    const message = answer.error?.error ?? `HTTP ${answer.status}`;
    const where = locate(this.#plan, answer.error?.details);
    const control = where.field === undefined ? undefined : this.#fields.get(where.field);
    if (source === 'csv' && this.#csv) {
      this.#csv.error.textContent = where.row === undefined ? message : `Row ${where.row + 1}: ${message}`;
      this.#csv.text.setAttribute('aria-invalid', 'true');
    } else if (control) {
      control.error.textContent = message;
      control.input.setAttribute('aria-invalid', 'true');
    } else if (this.#json) {
      this.#json.error.textContent = message;
      this.#json.text.setAttribute('aria-invalid', 'true');
    } else this.#showFormError(message);
  }

  async #submit(source: 'form' | 'csv'): Promise<void> {
    this.#clearErrors();
    const payload = await this.#payload(source);
    if (!payload) return;
    const prepared = prepare(this.#plan, payload, this.#model.name, this.#version);
    const answer = await this.#send(prepared, this.#protocol, this.#version);
    if (answer && !answer.ok && answer.status === 400) this.#showError(answer, source);
  }
}
