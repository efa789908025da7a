// The test runner's spec report (Node 24's default, with its closing "ℹ pass N" and "ℹ fail N" lines, which CI reads)
// with one line per test file saying how long it took.
import { Readable } from 'node:stream';
import type { TestEvent } from 'node:test/reporters';
import { spec } from 'node:test/reporters';

/**
 * The runner's events, with a diagnostic after each file's own completion: Node 24 reports every file as a test of
 * nesting 0 named by its path, whose duration covers the file's whole process. Other Node versions add nothing.
 */
async function* withFileDurations(source: AsyncIterable<TestEvent>): AsyncGenerator<TestEvent> {
  for await (const event of source) {
    yield event;
    if (event.type !== 'test:complete') continue;
    const { data } = event;
    if (data.nesting !== 0 || data.file === undefined || !data.file.endsWith(data.name)) continue;
    const seconds = (data.details.duration_ms / 1000).toFixed(1);
    yield {
      type: 'test:diagnostic',
      data: {
        nesting: 0,
        level: 'info',
        message: `file ${data.name}: ${seconds} s`,
        file: data.file,
        line: 1,
        column: 1,
      },
    };
  }
}

export default async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  for await (const chunk of Readable.from(withFileDurations(source)).pipe(spec())) yield String(chunk);
}
