// The page's own view of the API's answers (src/playground/types.ts) must fit the server's schemas: checked by the
// compiler (npm run typecheck), so that a schema change the page does not follow fails the build, not the browser.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Static } from 'typebox';
import type { ModelMetadataSchema } from '../../src/http/schemas/common.js';
import type { ModelConfigSchema } from '../../src/http/v2/schemas.js';
import type { ModelConfig, ModelInfo } from '../../src/playground/types.js';

type Fits<Server, Page> = Server extends Page ? true : false;

const metadata: Fits<Static<typeof ModelMetadataSchema>, ModelInfo> = true;
const config: Fits<Static<typeof ModelConfigSchema>, ModelConfig> = true;

it("the page's types fit the server's schemas (a compile-time check)", () => {
  assert.deepEqual([metadata, config], [true, true]);
});
