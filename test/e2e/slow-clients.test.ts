// Slow clients over real TCP: headers sent too slowly, a body never finished. Each is cut with 408 within about a
// second of its limit (Node checks its timeouts on connectionsCheckingInterval, 30 s unless set).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedApp } from '../helpers.js';

/**
 * Opens a connection, writes `first`, then (with `more`) a byte every 200 ms; resolves with what came back and
 * when the server closed the connection.
 */
function dribble(port: number, first: string, more = true): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(first));
    let answer = '';
    const timer = setInterval(() => more && socket.writable && socket.write('x'), 200);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    });
    socket.on('error', reject);
  });
}

describe('slow clients', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    app = await loadedApp({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(() => app.close());

  it('cuts headers that do not arrive within headersTimeoutMs with 408, within about a second of it', async () => {
    const { answer, ms } = await dribble(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"REQUEST_TIMEOUT"/);
    assert.ok(ms >= 1000 && ms < 2500, `cut after ${ms} ms`);
  });

  it('cuts a body that is not finished within requestTimeoutMs with 408, within about a second of it', async () => {
    const head =
      'POST /v1/models/iris:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const { answer, ms } = await dribble(port, `${head}5\r\n{"ins\r\n`, false);
    assert.match(answer, /408/);
    assert.ok(ms >= 2000 && ms < 3500, `cut after ${ms} ms`);
  });
});
