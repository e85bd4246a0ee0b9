// ESLint as the project configures it, for tests that lint snippets as if they were files of src/.
// The snippets are virtual files, so the type-aware rules (which need the file in the TypeScript
// program) are switched off; the import and engine rules under test are not type-aware.
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const snippetLinter = (): ESLint =>
  new ESLint({
    cwd: repoRoot,
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: false, project: null } },
      rules: {
        '@typescript-eslint/no-floating-promises': 'off',
        '@typescript-eslint/no-misused-promises': 'off',
      },
    },
  });
