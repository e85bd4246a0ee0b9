// Lint: typescript-eslint's recommended rules, plus the one architectural rule that matters most:
// the engine stays pure. It may not reach the cluster, the controllers, remediation or observability,
// nor read the environment, so the CLI, the operator and admission always judge alike.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const enginePurity = {
  patterns: [
    {
      group: ['@kubernetes/*', 'prom-client', 'winston'],
      message: 'src/engine is pure: no Kubernetes client, metrics or logging.',
    },
    {
      group: [
        '**/kube/**',
        '**/controller/**',
        '**/remediation/**',
        '**/observability/**',
        '**/report/**',
        '**/offline/**',
      ],
      message: 'src/engine is pure: it may import only src/engine and src/api.',
    },
    {
      group: ['node:*', 'fs', 'http', 'https', 'net', 'child_process', 'os', 'process'],
      message: 'src/engine does no I/O.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cluster/', 'coverage/'] },
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
