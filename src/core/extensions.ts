// Triton's protocol extensions the core serves, whatever the protocol: every front end lists these (REST adds its
// own binary_tensor_data), so that a feature is announced where it lands and nowhere twice.
export const CORE_EXTENSIONS = [
  'classification',
  'logging',
  'model_configuration',
  'model_repository',
  'schedule_policy',
  'statistics',
  'trace',
] as const;
