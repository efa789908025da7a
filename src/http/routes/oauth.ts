// POST /oauth/token: the OAuth 2.0 client-credentials grant (RFC 6749 section 4.4) for service clients.
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import { SignJWT } from 'jose';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { ClientRegistry } from '../../auth/clients.js';
import type { KeyMaterial } from '../../auth/keys.js';
import { HttpError, httpErrors, type OAuthCode } from '../errors.js';

export interface OAuthOptions {
  clients: ClientRegistry;
  signing: NonNullable<KeyMaterial['signing']>;
  ttlSeconds: number;
  issuer: string;
  audience: string;
  rateLimitMax: number;
}

const TokenRequestSchema = Type.Object({
  grant_type: Type.String({ examples: ['client_credentials'] }),
  scope: Type.Optional(
    Type.String({ maxLength: 512, description: 'Space-separated; default: all the client may have.' }),
  ),
  client_id: Type.Optional(Type.String({ maxLength: 128 })),
  client_secret: Type.Optional(Type.String({ maxLength: 512 })),
});

const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.String(),
});

const OAuthErrorSchema = Type.Object({
  error: Type.String({ description: 'RFC 6749 error code, e.g. invalid_client.' }),
  error_description: Type.String(),
  code: Type.String(),
  request_id: Type.String(),
});

/** An error in OAuth's own format (RFC 6749 section 5.2). */
function oauthError<E extends HttpError>(error: E, oauth: OAuthCode): E {
  error.oauth = oauth;
  return error;
}

const invalidRequest = (message: string) =>
  oauthError(new httpErrors.INVALID_TOKEN_REQUEST(message), 'invalid_request');

/** Percent-decoding of a Basic credential; a malformed escape ("%E0%A4%A") is the client's error, not a 500. */
function formDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalidRequest('malformed percent-encoding in Basic credentials');
  }
}

/** Client credentials from HTTP Basic (client_secret_basic) or the body (client_secret_post), never both. */
function credentials(request: FastifyRequest, body: { client_id?: string; client_secret?: string }) {
  const header = request.headers.authorization;
  if (header !== undefined && /^Basic /i.test(header)) {
    if (body.client_id !== undefined || body.client_secret !== undefined) {
      throw invalidRequest('use one client authentication method, not two');
    }
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidRequest('malformed Basic credentials');
    // RFC 6749 section 2.3.1: id and secret are form-urlencoded inside Basic.
    return {
      id: formDecoded(decoded.slice(0, colon)),
      secret: formDecoded(decoded.slice(colon + 1)),
      basic: true,
    };
  }
  if (body.client_id === undefined || body.client_secret === undefined) {
    throw invalidRequest('client_id and client_secret are required (or HTTP Basic authentication)');
  }
  return { id: body.client_id, secret: body.client_secret, basic: false };
}

const oauthRoutes: FastifyPluginAsyncTypebox<OAuthOptions> = async function (fastify, options) {
  await fastify.register(formbody);

  fastify.post(
    '/oauth/token',
    {
      attachValidation: true,
      // Limited per client IP whether rate limiting is on or not: secrets must not be guessable at line speed.
      config: { rateLimit: false },
      preParsing: async function (request, reply, payload) {
        await fastify.countRequest(request, reply, { max: options.rateLimitMax, bucket: 'token' }, 'ip');
        return payload;
      },
      schema: {
        tags: ['auth'],
        summary: 'Get an access token (client credentials grant)',
        description:
          'Form-encoded (RFC 6749) or JSON. Authenticate with HTTP Basic or client_id/client_secret.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenRequestSchema,
        response: { 200: TokenResponseSchema, 400: OAuthErrorSchema, 401: OAuthErrorSchema },
      },
    },
    async function (request, reply) {
      void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      if (request.validationError) throw invalidRequest(request.validationError.message.slice(0, 200));
      const body = request.body;
      if (body.grant_type !== 'client_credentials') {
        throw oauthError(new httpErrors.UNSUPPORTED_GRANT_TYPE(), 'unsupported_grant_type');
      }
      const { id, secret, basic } = credentials(request, body);
      const client = await options.clients.authenticate(id, secret);
      if (!client) {
        const error = oauthError(new httpErrors.INVALID_CLIENT(), 'invalid_client');
        if (basic) error.headers = { 'www-authenticate': 'Basic realm="serval"' };
        throw error;
      }
      const requested = body.scope === undefined ? client.scopes : body.scope.split(' ').filter(Boolean);
      const refused = requested.filter((s) => !(client.scopes as string[]).includes(s));
      if (refused.length > 0 || requested.length === 0) {
        const scopes = refused.join(' ').slice(0, 100) || '(empty)';
        throw oauthError(new httpErrors.INVALID_SCOPE(scopes), 'invalid_scope');
      }
      const scope = requested.join(' ');
      // One clock reading for iat and exp, so that exp - iat is exactly expires_in.
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ scope })
        .setProtectedHeader({ alg: options.signing.alg, typ: 'JWT' })
        .setSubject(client.client_id)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(now)
        .setExpirationTime(now + options.ttlSeconds)
        .setJti(randomUUID())
        .sign(options.signing.key);
      return { access_token: token, token_type: 'Bearer' as const, expires_in: options.ttlSeconds, scope };
    },
  );
};

export default oauthRoutes;
