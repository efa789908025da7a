// Writes docs/configuration.md from the config schema: every key, its environment variable, type, default and meaning.
// `npm run docs:config`; test/docs/docs.test.ts fails when the committed page is not what this script writes.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { configKeys, envName } from '../src/config/create-config.js';
import { ConfigSchema, type Config } from '../src/config/schema.js';

export const CONFIG_PAGE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

/** The heading of each group of keys, at the group's first key (the schema keeps each group together). */
const GROUPS: Partial<Record<keyof Config, string>> = {
  host: 'Server',
  modelRepository: 'Models and inference',
  grpcEnabled: 'gRPC',
  authEnabled: 'Authentication',
  oauthClientsFile: 'OAuth tokens for service clients',
  rateLimitEnabled: 'Rate limits and Redis',
  cacheEnabled: 'Prediction cache',
  traceEndpoint: 'Tracing (OpenTelemetry)',
  metricsEnabled: 'Metrics',
  payloadLogUrl: 'Payload logging',
};

const INTRO = `# Configuration

<!-- Written by scripts/config-doc.ts from src/config/schema.ts (npm run docs:config): edit those, not this page. -->

\`serval.config.json\` in the working directory is the server's configuration (the counterpart of gunicorn's
\`gunicorn.conf.py\`); \`SERVAL_CONFIG=/path/file.json\` names another file. A missing default file is fine; a missing file
named by \`SERVAL_CONFIG\` is not. Keys starting with \`//\` and \`$schema\` are ignored, so the file can hold comments.

Every key can be set by its environment variable, which wins over the file: \`SERVAL_\` and the key in upper snake case
(\`requestTimeoutMs\` is \`SERVAL_REQUEST_TIMEOUT_MS\`). Lists are comma-separated, booleans \`true\` or \`false\`, numbers
parsed strictly (\`2abc\` is refused, not read as 2).

One schema (\`src/config/schema.ts\`) validates the merged result at start. A bad value stops the server with exit code
78 (\`EX_CONFIG\`, so a supervisor does not restart it in a loop) and a message naming the key or the variable:

\`\`\`
serval: Invalid configuration: environment variable SERVAL_PORT must be <= 65535 (got 70000)
\`\`\`

An unknown key in the file is refused with the closest known one (\`unknown key "prot" (did you mean "port"?)\`); a
\`SERVAL_*\` variable that names no setting is a warning at start, with the closest one. Some keys must agree with each
other, and the start fails when they do not:

- \`headersTimeoutMs\` is at most \`requestTimeoutMs\`, and \`shutdownDelayMs\` is shorter than \`shutdownGraceMs\`;
- \`metricsPort\` (when not 0) and \`grpcPort\` (with gRPC on) differ from \`port\`;
- \`grpcTlsCertFile\` and \`grpcTlsKeyFile\` are set together or not at all;
- at most one of \`jwtSecret\`/\`jwtSecretFile\`, \`jwtPublicKeyFile\` and \`jwtJwksUrl\`; \`jwtSecret\` has at least 32
  characters; \`authEnabled\` needs one of them or \`oauthPrivateKeyFile\`; \`oauthClientsFile\` needs
  \`oauthPrivateKeyFile\` or the shared secret to sign with;
- \`modelRepository\` and every file a key names exist.

In a container, set the variables with \`docker run -e SERVAL_…\` or the manifests' \`env\` ([deploying](deploying.md)).
`;

interface KeySchema {
  type?: string;
  enum?: readonly unknown[];
  items?: KeySchema;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
}

/** The value's type as a reader needs it: the enum's values, the range of a number, the items of a list. */
function typeOf(schema: KeySchema): string {
  if (schema.enum) return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(', ');
  if (schema.type === 'array') {
    const item = schema.items ? typeOf(schema.items) : 'value';
    return `list of ${/^[a-z]+$/.test(item) ? `${item}s` : item}`;
  }
  const { minimum, maximum } = schema;
  if (minimum !== undefined && maximum !== undefined) return `${schema.type ?? ''} ${minimum}–${maximum}`;
  if (minimum !== undefined) return `${schema.type ?? ''} ≥ ${minimum}`;
  return schema.type ?? 'any';
}

/** Markdown table cell text: pipes and angle brackets would end the cell or start HTML. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '\\<');

/** The page, formatted by Prettier with the project's settings (npm run lint checks every Markdown file). */
export async function configPage(): Promise<string> {
  const lines: string[] = [INTRO];
  if (configKeys[0] === undefined || !(configKeys[0] in GROUPS))
    throw new Error('the first key starts no group');
  for (const key of configKeys) {
    const schema = ConfigSchema.properties[key] as KeySchema;
    if (!schema.description) throw new Error(`src/config/schema.ts: "${key}" has no description`);
    const group = GROUPS[key];
    if (group !== undefined) {
      lines.push(`\n## ${group}\n`);
      lines.push('| Key | Environment variable | Type | Default | Meaning |');
      lines.push('| --- | --- | --- | --- | --- |');
    }
    const fallback = `\`${JSON.stringify(schema.default)}\``;
    lines.push(
      `| \`${key}\` | \`${envName(key)}\` | ${typeOf(schema)} | ${fallback} | ${cell(schema.description)} |`,
    );
  }
  const options = (await resolveConfig(CONFIG_PAGE)) ?? {};
  return format(lines.join('\n') + '\n', { ...options, parser: 'markdown' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIG_PAGE, await configPage());
  process.stdout.write(`wrote ${CONFIG_PAGE}\n`);
}
