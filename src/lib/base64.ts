// Strict base64 (RFC 4648 section 4, padded): Buffer.from(text, 'base64') skips characters it does not know and
// so takes any text; a payload that is not base64 must be refused, not decoded into other bytes.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of a padded base64 text, or undefined when the text is not base64. */
export function fromBase64(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}
