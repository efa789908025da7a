// The package version, read once from package.json so that / and the OpenAPI document never disagree with it.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const SERVAL_VERSION = pkg.version;
