// Errors Node's HTTP parser raises before Fastify sees a request (431, 408, malformed), in Serval's envelope.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

const CLIENT_ERRORS: Record<string, { status: number; code: string; error: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'HEADERS_TOO_LARGE', error: 'Request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    error: 'The request was not received in time',
  },
};
const MALFORMED = { status: 400, code: 'MALFORMED_REQUEST', error: 'The request is not valid HTTP' };

/** Fastify's clientErrorHandler: same behaviour as its default, with our error body. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, error } = CLIENT_ERRORS[err.code ?? ''] ?? MALFORMED;
  const body = JSON.stringify({ error, code });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
