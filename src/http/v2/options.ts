// What the V2 routes share: their options and the error responses and tag of their OpenAPI documentation.
import type { ConfigLimits } from '../../core/models/describe.js';
import { ErrorSchema } from '../schemas/common.js';

export interface V2Options extends ConfigLimits {
  version: string;
  predictRateLimit: number;
  /** Largest JSON body, and largest body with binary tensors (Inference-Header-Content-Length). */
  jsonBodyLimit: number;
  binaryBodyLimit: number;
}

export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  503: ErrorSchema,
};

export const tags = ['v2'];
