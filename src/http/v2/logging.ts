// Triton's logging extension (tritonclient's get_log_settings and update_log_settings): GET /v2/logging answers
// the settings, POST changes them in every serving process at once and answers them all.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Scopes } from '../../auth/scopes.js';
import { checkLogSettings } from '../../core/log-settings.js';
import { requireScopes } from '../plugins/app/auth.js';
import { ErrorSchema } from '../schemas/common.js';
import { tags, tritonBodies } from './options.js';

const LogSettingsSchema = Type.Object({
  log_file: Type.String({ description: 'Read-only: Serval logs to standard output.' }),
  log_info: Type.Boolean(),
  log_warning: Type.Boolean(),
  log_error: Type.Boolean(),
  log_verbose_level: Type.Integer({ minimum: 0, description: '0: no debug lines; 1: debug; 2: trace too.' }),
  log_format: Type.Enum(['default', 'ISO8601'], {
    description: 'The time of each line: epoch ms, or ISO 8601.',
  }),
});

const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema };

const loggingRoutes: FastifyPluginAsyncTypebox = async function (fastify) {
  requireScopes(fastify);
  tritonBodies(fastify);
  const { core } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  const config = { scope: Scopes.admin };
  fastify.get(
    '/v2/logging',
    {
      config,
      schema: {
        security,
        tags,
        summary: 'The log settings',
        response: { 200: LogSettingsSchema, ...errorResponses },
      },
    },
    async () => core.logging(),
  );
  fastify.post(
    '/v2/logging',
    {
      config,
      schema: {
        security,
        tags,
        summary: 'Change log settings in every worker; answers all of them',
        description:
          'Any of log_info, log_warning, log_error, log_verbose_level, log_format; log_file is read-only.',
        body: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 16 }),
        response: { 200: LogSettingsSchema, ...errorResponses },
      },
    },
    async (request) => {
      const settings = checkLogSettings(request.body);
      const values = await core.logging(settings);
      request.log.info({ settings }, 'log settings changed through the logging API');
      return values;
    },
  );
};

export default loggingRoutes;
