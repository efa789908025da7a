// The per-request logger: a pino child made only when a line is written, with the request's bindings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { requestLogger } from '../../src/http/request-logger.js';

function parent(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const made = { children: 0 };
  // pino children inherit from their parent: the counter must call the original with the logger it is called on.
  const child = logger.child; // eslint-disable-line @typescript-eslint/unbound-method -- re-bound below
  logger.child = function (this: typeof logger, ...args: Parameters<typeof child>) {
    made.children++;
    return child.apply(this, args);
  } as typeof child;
  return { logger, lines, made };
}

describe('requestLogger', () => {
  it('makes no child while nothing is written at an enabled level', () => {
    const { logger, lines, made } = parent('warn');
    const log = requestLogger(logger, { reqId: 'r-1' }, {});
    log.info({ route: '/x' }, 'request');
    log.debug('details');
    log.trace('more');
    log.silent('never');
    assert.equal(log.level, 'warn');
    assert.equal(made.children, 0);
    assert.deepEqual(lines, []);
  });

  it('writes through one child with the bindings once a level is enabled', () => {
    const { logger, lines, made } = parent('warn');
    const log = requestLogger(logger, { reqId: 'r-2' }, {});
    log.warn({ status: 503 }, 'overloaded');
    log.error(new Error('boom'), 'failed');
    log.fatal('gone');
    assert.equal(made.children, 1);
    assert.deepEqual(
      lines.map(({ reqId, level, msg }) => ({ reqId, level, msg })),
      [
        { reqId: 'r-2', level: 40, msg: 'overloaded' },
        { reqId: 'r-2', level: 50, msg: 'failed' },
        { reqId: 'r-2', level: 60, msg: 'gone' },
      ],
    );
    assert.equal(lines[0]?.status, 503);
    assert.equal((lines[1]?.err as { message: string }).message, 'boom');
  });

  it("honours a route's own level, a level set later, and children of its own", () => {
    const { logger, lines } = parent('warn');
    const verbose = requestLogger(logger, { reqId: 'r-3' }, { level: 'debug' });
    assert.equal(verbose.level, 'debug');
    verbose.debug('seen');
    const quiet = requestLogger(logger, { reqId: 'r-4' }, {});
    quiet.level = 'info';
    quiet.info('also seen');
    quiet.child({ component: 'cache' }).warn('nested');
    assert.deepEqual(
      lines.map(({ reqId, msg, component }) => ({ reqId, msg, component })),
      [
        { reqId: 'r-3', msg: 'seen', component: undefined },
        { reqId: 'r-4', msg: 'also seen', component: undefined },
        { reqId: 'r-4', msg: 'nested', component: 'cache' },
      ],
    );
  });

  it('answers isLevelEnabled as pino would for its child, without making it', () => {
    const { logger, made } = parent('info');
    const log = requestLogger(logger, { reqId: 'r-6' }, {});
    assert.deepEqual(
      ['debug', 'info', 'error'].map((level) => log.isLevelEnabled(level)),
      [false, true, true],
    );
    assert.equal(made.children, 0);
    const verbose = requestLogger(logger, { reqId: 'r-7' }, { level: 'debug' });
    assert.equal(verbose.isLevelEnabled('debug'), true);
    const silent = requestLogger(parent('silent').logger, { reqId: 'r-8' }, {});
    assert.equal(silent.isLevelEnabled('fatal'), false);
  });

  it('writes nothing at all when the level is silent', () => {
    const { logger, lines, made } = parent('silent');
    const log = requestLogger(logger, { reqId: 'r-5' }, {});
    log.fatal('not written');
    assert.equal(made.children, 0);
    assert.deepEqual(lines, []);
  });
});
