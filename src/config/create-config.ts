// Builds the validated Config from a config file object and an environment; pure, so tests call it directly.
import { readFileSync, statSync } from 'node:fs';
import { Value } from 'typebox/value';
import { FILE_JSON_BOUNDS, parseBoundedJson } from '../lib/bounded-json.js';
import { closest } from '../lib/closest.js';
import { otelVariables } from './otel-env.js';
import { ConfigSchema, SECRET_HEADERS, type Config } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'serval.config.json';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `requestTimeoutMs` → `SERVAL_REQUEST_TIMEOUT_MS`. */
export function envName(key: string): string {
  return 'SERVAL_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export const configKeys = Object.keys(ConfigSchema.properties) as (keyof Config)[];

/** Env values are strings: numbers are parsed strictly ("2abc" stays a string and fails validation). */
function fromEnv(key: keyof Config, value: string): unknown {
  const { type } = ConfigSchema.properties[key] as { type?: string };
  const trimmed = value.trim();
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (type === 'boolean' && /^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === 'true';
  if (type === 'array')
    return trimmed
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  return value;
}

/**
 * Merges defaults < file < environment, converts env strings by the schema's types and validates the result.
 * Throws ConfigError naming the offending key (and the env variable when it came from there).
 */
export function createConfig(file: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Config {
  const origin = new Map<string, string>();
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(file)) {
    if (key === '$schema' || key.startsWith('//')) continue; // room for comments in the JSON file
    merged[key] = value;
    origin.set(key, `config file key "${key}"`);
  }
  // OpenTelemetry's own variables, below Serval's: SERVAL_TRACE_* wins where both are set.
  for (const [key, { value, name }] of Object.entries(otelVariables(env))) {
    merged[key] = fromEnv(key as keyof Config, value);
    origin.set(key, `environment variable ${name}`);
  }
  for (const key of configKeys) {
    const value = env[envName(key)];
    if (value === undefined || value === '') continue;
    merged[key] = fromEnv(key, value);
    origin.set(key, `environment variable ${envName(key)}`);
  }
  const unknown = Object.keys(merged).find((key) => !(configKeys as string[]).includes(key));
  if (unknown !== undefined) {
    const near = closest(unknown, configKeys);
    const hint = near === undefined ? `known keys: ${configKeys.join(', ')}` : `did you mean "${near}"?`;
    throw new ConfigError(`Invalid configuration: unknown key "${unknown}" (${hint})`);
  }
  const candidate = Value.Default(ConfigSchema, merged);
  const firstError = Value.Errors(ConfigSchema, candidate)[0];
  if (firstError) {
    const key = firstError.instancePath.split('/')[1];
    const where = key === undefined ? 'configuration' : (origin.get(key) ?? `key "${key}"`);
    const allowed = key === undefined ? undefined : allowedValues(key as keyof Config);
    const rule = allowed === undefined ? firstError.message : `must be one of ${allowed}`;
    const detail = key === undefined ? '' : ` ${rule} (got ${JSON.stringify(merged[key])})`;
    throw new ConfigError(`Invalid configuration: ${where}${detail}`);
  }
  const config = candidate as Config;
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError('Invalid configuration: headersTimeoutMs must not exceed requestTimeoutMs');
  }
  if (config.shutdownDelayMs >= config.shutdownGraceMs) {
    throw new ConfigError('Invalid configuration: shutdownDelayMs must be shorter than shutdownGraceMs');
  }
  if (config.metricsPort !== 0 && config.metricsPort === config.port) {
    throw new ConfigError(
      'Invalid configuration: metricsPort must differ from port (0 serves /metrics on the HTTP port)',
    );
  }
  checkAuth(config);
  checkPayloadLog(config);
  if (config.grpcEnabled && config.grpcPort !== 0 && config.grpcPort === config.port) {
    throw new ConfigError('Invalid configuration: grpcPort must differ from port');
  }
  if (Boolean(config.grpcTlsCertFile) !== Boolean(config.grpcTlsKeyFile)) {
    throw new ConfigError('Invalid configuration: set both grpcTlsCertFile and grpcTlsKeyFile, or neither');
  }
  return config;
}

/** The values an enum key (or an array of enum values) allows, listed for its error message. */
function allowedValues(key: keyof Config): string | undefined {
  const schema = ConfigSchema.properties[key] as
    { enum?: unknown[]; items?: { enum?: unknown[] } } | undefined;
  const values = schema?.enum ?? schema?.items?.enum;
  return values?.map((v) => JSON.stringify(v)).join(', ');
}

/**
 * SERVAL_* variables that name no setting (a typo such as SERVAL_PORTT is otherwise silently ignored), each with the
 * closest real one when there is a likely match. The entry point prints them as warnings.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(configKeys.map(envName));
  // Variables the process itself reads, besides the settings.
  for (const name of ['SERVAL_CONFIG']) known.add(name);
  return Object.keys(env)
    .filter((name) => name.startsWith('SERVAL_') && !known.has(name))
    .map((name) => {
      const near = closest(name, [...known]);
      return `environment variable ${name} is not a Serval setting${near === undefined ? '' : `; did you mean ${near}?`}`;
    });
}

/**
 * The files and folders the configuration names must be there before anything starts: a missing model repository
 * would otherwise give a server that is live forever and never ready.
 */
export function checkPaths(config: Config): void {
  const exists = (path: string) => {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  };
  if (!exists(config.modelRepository)) {
    throw new ConfigError(
      `Invalid configuration: modelRepository "${config.modelRepository}" does not exist`,
    );
  }
  const files = [
    'jwtSecretFile',
    'jwtPublicKeyFile',
    'oauthClientsFile',
    'oauthPrivateKeyFile',
    'grpcTlsCertFile',
    'grpcTlsKeyFile',
  ] as const;
  for (const key of files) {
    const path = config[key];
    if (path && !exists(path))
      throw new ConfigError(`Invalid configuration: ${key} "${path}" does not exist`);
  }
}

/** Reads the JSON config file; a missing default file is fine, a missing explicit one is not. */
export function readConfigFile(path: string | undefined): Record<string, unknown> {
  const target = path ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`Cannot read config file ${target}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(text, FILE_JSON_BOUNDS);
  } catch (err) {
    const what = err instanceof SyntaxError ? `is not valid JSON: ${err.message}` : (err as Error).message;
    throw new ConfigError(`Config file ${target} ${what}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${target} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Auth settings that only make sense together: fail at start, not at the first request. */
function checkAuth(config: Config): void {
  const keys = [config.jwtSecret || config.jwtSecretFile, config.jwtPublicKeyFile, config.jwtJwksUrl].filter(
    Boolean,
  );
  if (config.jwtSecret && config.jwtSecretFile) {
    throw new ConfigError('Invalid configuration: set jwtSecret or jwtSecretFile, not both');
  }
  if (config.jwtSecret && config.jwtSecret.length < 32) {
    throw new ConfigError(
      'Invalid configuration: jwtSecret (SERVAL_JWT_SECRET) must have at least 32 characters',
    );
  }
  if (keys.length > 1) {
    throw new ConfigError(
      'Invalid configuration: set only one of jwtSecret/jwtSecretFile, jwtPublicKeyFile, jwtJwksUrl',
    );
  }
  if (config.authEnabled && keys.length === 0 && !config.oauthPrivateKeyFile) {
    throw new ConfigError(
      'Invalid configuration: authEnabled needs a key: jwtSecret/jwtSecretFile, jwtPublicKeyFile, jwtJwksUrl or oauthPrivateKeyFile',
    );
  }
  if (config.oauthClientsFile && !config.oauthPrivateKeyFile && !(config.jwtSecret || config.jwtSecretFile)) {
    throw new ConfigError(
      'Invalid configuration: oauthClientsFile needs oauthPrivateKeyFile or a jwtSecret to sign with',
    );
  }
}

/** Payload logging's sink must be one it can send to, and it never copies credentials into events. */
function checkPayloadLog(config: Config): void {
  const secret = config.payloadLogHeaders.find((h) =>
    (SECRET_HEADERS as readonly string[]).includes(h.toLowerCase()),
  );
  if (secret !== undefined) {
    throw new ConfigError(
      `Invalid configuration: payloadLogHeaders lists "${secret}", which carries credentials and is never logged (${SECRET_HEADERS.join(', ')})`,
    );
  }
  const url = config.payloadLogUrl;
  if (url === '') return;
  const stream = /^redis-stream:\/\/(.+)$/.exec(url);
  if (stream !== null) {
    if (!config.redisUrl) {
      throw new ConfigError('Invalid configuration: payloadLogUrl redis-stream://<key> needs redisUrl');
    }
    return;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError(
      `Invalid configuration: payloadLogUrl must be an http(s):// URL or redis-stream://<key> (got ${JSON.stringify(url)})`,
    );
  }
}
