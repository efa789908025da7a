// Triton's trace extension (tritonclient's get_trace_settings and update_trace_settings): GET answers the settings,
// global or of a model; POST changes them in every serving process at once and answers those that now hold there.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Scopes } from '../../auth/scopes.js';
import { checkTraceSettings } from '../../core/tracing/settings.js';
import { requireScopes } from '../plugins/app/auth.js';
import { ErrorSchema } from '../schemas/common.js';
import { tags, tritonBodies } from './options.js';
import { ModelParamsSchema } from './schemas.js';

const TraceSettingsSchema = Type.Object({
  trace_file: Type.String({ description: 'Read-only: spans are exported over OTLP, not to a file.' }),
  trace_level: Type.Array(Type.Enum(['OFF', 'TIMESTAMPS']), { description: 'OFF, or TIMESTAMPS: traced.' }),
  trace_rate: Type.String({
    description: "One request in this many (without a caller's trace) is offered to the sampler.",
  }),
  trace_count: Type.String({ description: 'Traces left to take in this worker; -1: no limit.' }),
  log_frequency: Type.String({
    description: "Spans are exported after this many traces; 0: on the exporter's schedule.",
  }),
});

const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema };

const traceRoutes: FastifyPluginAsyncTypebox = async function (fastify) {
  requireScopes(fastify);
  tritonBodies(fastify);
  const { core } = fastify;
  const security = fastify.tokenVerifier ? [{ bearerAuth: [] }] : undefined;
  const config = { scope: Scopes.admin };
  const body = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 16 });
  const description =
    'Any of trace_level, trace_rate, trace_count, log_frequency (values as strings or numbers); null resets a ' +
    "setting (a model's to the global one); trace_file is read-only.";

  for (const [path, params, whose] of [
    ['/v2/trace/setting', undefined, 'global'],
    ['/v2/models/:model/trace/setting', ModelParamsSchema, "a model's"],
  ] as const) {
    const model = (request: { params: unknown }) => (request.params as { model?: string }).model;
    fastify.get(
      path,
      {
        config,
        schema: {
          security,
          tags,
          summary: `The ${whose} trace settings`,
          ...(params ? { params } : {}),
          response: { 200: TraceSettingsSchema, ...errorResponses },
        },
      },
      async (request) => core.tracing(model(request)),
    );
    fastify.post(
      path,
      {
        config,
        schema: {
          security,
          tags,
          summary: `Change the ${whose} trace settings in every worker`,
          description,
          ...(params ? { params } : {}),
          body,
          response: { 200: TraceSettingsSchema, ...errorResponses },
        },
      },
      async (request) => {
        const settings = checkTraceSettings(request.body);
        const values = await core.tracing(model(request), settings);
        request.log.info({ settings, model: model(request) }, 'trace settings changed through the trace API');
        return values;
      },
    );
  }
};

export default traceRoutes;
