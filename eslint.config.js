// Flat config: typescript-eslint's strict type-aware rules over all TypeScript sources.
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import stepform from './eslint/boundaries.js';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'coverage/**',
      'infra/cdk.out/**',
      'github-action/dist/**',
      'dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: fileURLToPath(new URL('.', import.meta.url)),
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    // Folder boundaries (DESIGN "Parts, and where each lives"): see eslint/boundaries.js.
    files: ['core/**/*.ts', 'adapters/**/*.ts', 'lambdas/**/*.ts', 'executor-image/**/*.ts'],
    plugins: { stepform },
    rules: { 'stepform/boundaries': 'error' },
  },
  {
    // Tests read results they have just asserted on.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Fakes of async ports resolve at once.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  {
    // The run console's script runs in the browser.
    files: ['local/console/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
        DOMParser: 'readonly',
        EventSource: 'readonly',
      },
    },
  },
);
