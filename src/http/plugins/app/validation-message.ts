// Turns Ajv's validation errors into one short sentence that names the instance and field at fault.
import type { FastifySchemaValidationError } from 'fastify';

/** "/instances/3/sepal_length" → "instances[3].sepal_length". */
function readablePath(context: string, instancePath: string): string {
  const parts = instancePath.split('/').slice(1);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : `${path}.${part}`), context);
}

/**
 * Ajv reports each branch of a union (array or object instance); the deepest error is the one that names
 * the bad value, so it is the one reported.
 */
export function formatValidation(context: string, validation: FastifySchemaValidationError[]): string {
  const deepest = validation.reduce<FastifySchemaValidationError | undefined>(
    (best, e) => (best === undefined || e.instancePath.length > best.instancePath.length ? e : best),
    undefined,
  );
  if (!deepest) return `${context} is invalid`;
  const path = readablePath(context, deepest.instancePath);
  const params = deepest.params as { additionalProperty?: string };
  const extra =
    params.additionalProperty === undefined ? '' : ` ("${params.additionalProperty.slice(0, 40)}")`;
  return `${path} ${deepest.message ?? 'is invalid'}${extra}`.slice(0, 200);
}
