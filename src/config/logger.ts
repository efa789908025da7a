// pino options from the config, shared by the primary (which must not load the app), every worker and the payload
// log's sender thread.
import type { LoggerOptions } from 'pino';
import type { Config } from './schema.js';

export function loggerOptions(config: Config): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    ...(config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty' } } : {}),
  };
}
