// Lint: typescript-eslint's recommended rules, type-aware rules for src/ (the design relies on
// fire-and-forget Events, so a promise nobody handles must be a lint error, not a crash), and the
// layering, which test/unit/layering.test.ts proves bites:
//
//   base/         the ground floor: JSON, log, clock, bounded map, object reference; imports nothing
//   api/          the policy API (schema, types, constants): base only
//   engine/       the pure engine: api and base only, no I/O, no clock, no environment
//   kube/         talking to the API server: base only
//   observability/ metrics, logger, HTTP endpoints: base and api only
//   runtime/      queue, workers, election, manager: base and kube only
//   report/, remediation/  domain services: never the controllers, the runtime or the setup
//   controllers/  the pod and policy controllers: anything but the setup and the entry points
//   offline/      deployguard evaluate: engine, api and base only
//   setup/, main.ts, cli.ts  the composition root: anything
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import layers from './eslint/layers.js';

const ENTRY = ['src/main.ts', 'src/cli.ts', 'src/config.ts', 'src/setup'];

/** The layering of src/: what each layer may (allow) or must never (deny) import. */
export const LAYERS = [
  {
    from: 'src/base',
    allow: [],
    message: 'src/base is the ground floor: it imports nothing from src',
  },
  { from: 'src/api', allow: ['src/base'], message: 'src/api is a leaf: it imports only src/base' },
  {
    from: 'src/engine',
    allow: ['src/api', 'src/base'],
    message: 'src/engine is pure: it imports only src/engine, src/api and src/base',
  },
  {
    from: 'src/evaluation',
    allow: ['src/engine', 'src/api', 'src/base'],
    message:
      'src/evaluation runs the engine in threads: it imports only the engine, src/api and src/base',
  },
  {
    from: 'src/kube',
    allow: ['src/base', 'src/version.ts'],
    message: 'src/kube imports nothing above it: only src/base',
  },
  {
    from: 'src/observability',
    allow: ['src/base', 'src/api'],
    message: 'src/observability imports only src/base and src/api',
  },
  {
    from: 'src/runtime',
    allow: ['src/base', 'src/kube'],
    message: 'src/runtime imports only src/base and src/kube: no domain code',
  },
  {
    from: 'src/report',
    deny: ['src/controllers', 'src/runtime', 'src/remediation', 'src/offline', ...ENTRY],
    message: 'src/report never imports controller, runtime or setup code',
  },
  {
    from: 'src/remediation',
    deny: ['src/controllers', 'src/runtime', 'src/offline', ...ENTRY],
    message: 'src/remediation never imports controller, runtime or setup code',
  },
  {
    from: 'src/controllers',
    deny: ['src/offline', ...ENTRY],
    message: 'src/controllers never import the setup or the entry points',
  },
  {
    from: 'src/offline',
    allow: ['src/engine', 'src/api', 'src/base'],
    message: 'src/offline imports only the engine, src/api and src/base',
  },
];

const enginePurity = {
  patterns: [
    {
      group: ['@kubernetes/*', 'prom-client', 'winston'],
      message: 'src/engine is pure: no Kubernetes client, metrics or logging.',
    },
    {
      group: ['node:*', 'fs', 'http', 'https', 'net', 'child_process', 'os', 'process'],
      message: 'src/engine does no I/O.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.cluster/',
      'coverage/',
      'build/',
      'dist-image/',
      'dist-release/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A generous tripwire: a function this branchy wants splitting before it grows further.
      complexity: ['error', 30],
    },
  },
  {
    // The pod and remediation domain: small named steps, not long procedures.
    files: ['src/controllers/pod/**/*.ts', 'src/remediation/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { layers },
    rules: { 'layers/boundaries': ['error', { layers: LAYERS }] },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', enginePurity],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/engine reads no environment.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'src/engine has no clock: take `now` from the caller.',
        },
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'src/engine has no clock: take `now` from the caller.',
        },
        {
          selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
          message: 'src/engine is deterministic.',
        },
      ],
    },
  },
);
