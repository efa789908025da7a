// The token prompt, shown when the API answers 401 (or 403 to a token without the read scope): the token goes to
// the Api's memory only, never to storage, cookies or the address.
import type { Answer, Api } from './api.js';
import { byId, replace } from './dom.js';
import { errorBox } from './result-view.js';

export class TokenPrompt {
  readonly #api: Api;
  readonly #section = byId('auth', HTMLElement);
  readonly #message = byId('auth-message', HTMLElement);
  readonly #input = byId('token', HTMLInputElement);
  readonly #forget = byId('forget-token', HTMLButtonElement);

  constructor(api: Api, onToken: () => void) {
    this.#api = api;
    byId('auth-form', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      api.setToken(this.#input.value);
      this.#input.value = '';
      this.#forget.hidden = !api.hasToken;
      onToken();
    });
    this.#forget.addEventListener('click', () => {
      api.setToken(null);
      this.#forget.hidden = true;
      onToken();
    });
  }

  /** Asks for a token, with what the API said about the last one (or about having none). */
  show(answer: Answer): void {
    this.#section.hidden = false;
    replace(this.#message, errorBox(answer));
    this.#forget.hidden = !this.#api.hasToken;
    if (!this.#section.contains(document.activeElement)) this.#input.focus();
  }

  hide(): void {
    this.#section.hidden = true;
    this.#message.replaceChildren();
  }

  get visible(): boolean {
    return !this.#section.hidden;
  }
}
