// Lint rules: typescript-eslint's strict type-checked presets; formatting is left to Prettier.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * An import rule for one folder of src/: imports whose path matches a pattern's regex are refused, with its reason.
 * A later rule for the same files replaces an earlier one, so a sub-folder repeats its parent's patterns.
 */
function layer(files, ...patterns) {
  return { files: [files], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

const HTTP = {
  regex: '^@grpc/|(^|/)(grpc|process)/',
  message: 'the HTTP front end does not reach into gRPC or the process',
};

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.scratch/', '.ci/.node-24/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Fastify handlers and plugins are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
    },
  },
  // The layers: arrows point down. The core is protocol-neutral; front ends never import each other.
  layer('src/core/**', {
    regex: '^(fastify|@fastify/|@grpc/)|(^|/)(http|grpc|process|auth)/',
    message: 'the core is protocol-neutral',
  }),
  layer('src/auth/**', {
    regex: '^(fastify|@fastify/|@grpc/)|(^|/)(http|grpc|process)/',
    message: 'auth is shared by every front end',
  }),
  layer('src/limits/**', {
    regex: '^(fastify|@fastify/|@grpc/)|(^|/)(http|grpc|process|auth)/',
    message: 'rate limits are shared by every front end',
  }),
  layer('src/lib/**', { regex: '^\\.\\./', message: 'lib holds leaf helpers with no Serval imports' }),
  layer('src/config/**', {
    regex: '(^|/)(core|http|grpc|process|auth)/',
    message: 'config knows no other layer',
  }),
  layer('src/http/**', HTTP),
  layer('src/http/v1/**', HTTP, { regex: '(^|/)v2/', message: 'V1 and V2 stand beside each other' }),
  layer('src/http/v2/**', HTTP, { regex: '(^|/)v1/', message: 'V1 and V2 stand beside each other' }),
  layer('src/playground/**', {
    regex: '^(\\.\\./|node:|fastify|@fastify/)',
    message: 'the playground is browser code: it imports only its own modules',
  }),
  layer('src/grpc/**', {
    regex: '^(fastify|@fastify/)|(^|/)(http|process)/',
    message: 'the gRPC front end does not reach into HTTP or the process',
  }),
  // Build scripts are plain Node ESM run before anything is compiled: linted without type information.
  {
    files: ['scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: false },
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // Response bodies from res.json() are untyped by design: the assertions are the type check.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
    },
  },
  {
    // Manifests are untyped YAML: the schema checks and the assertions are their type check.
    files: ['test/deploy/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
