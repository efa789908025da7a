// Builds the validated Config from a config file object and an environment; pure, so tests call it directly.
import { readFileSync } from 'node:fs';
import { Value } from 'typebox/value';
import { ConfigSchema, type Config } from './schema.js';

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
  for (const key of configKeys) {
    const value = env[envName(key)];
    if (value === undefined || value === '') continue;
    merged[key] = fromEnv(key, value);
    origin.set(key, `environment variable ${envName(key)}`);
  }
  const unknown = Object.keys(merged).find((key) => !(configKeys as string[]).includes(key));
  if (unknown !== undefined) {
    throw new ConfigError(
      `Invalid configuration: unknown key "${unknown}" (known keys: ${configKeys.join(', ')})`,
    );
  }
  const candidate = Value.Default(ConfigSchema, merged);
  const firstError = Value.Errors(ConfigSchema, candidate)[0];
  if (firstError) {
    const key = firstError.instancePath.split('/')[1];
    const where = key === undefined ? 'configuration' : (origin.get(key) ?? `key "${key}"`);
    const detail = key === undefined ? '' : ` ${firstError.message} (got ${JSON.stringify(merged[key])})`;
    throw new ConfigError(`Invalid configuration: ${where}${detail}`);
  }
  const config = candidate as Config;
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError('Invalid configuration: headersTimeoutMs must not exceed requestTimeoutMs');
  }
  if (config.shutdownDelayMs >= config.shutdownGraceMs) {
    throw new ConfigError('Invalid configuration: shutdownDelayMs must be shorter than shutdownGraceMs');
  }
  checkAuth(config);
  return config;
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
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Config file ${target} is not valid JSON: ${(err as Error).message}`);
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
