// Lint: typescript-eslint's recommended rules, with type information for the rules that need it
// (a promise nobody awaits or catches is an error: its rejection would go unnoticed). Formatting
// is prettier's job (.prettierrc.json); `npm run lint` runs both, and `npm test` runs lint.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // Unused on purpose when named with a leading underscore (a destructured field left out).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Prettier wraps code at 140 but cannot break a long string: this catches those in src/.
    // (Tests quote whole error messages, which read better unbroken.)
    files: ['src/**/*.ts'],
    rules: { 'max-len': ['error', { code: 140, ignoreUrls: true }] },
  },
  {
    // Tests and benchmarks read JSON off the wire and poke at it; typing every reply would add
    // nothing that their assertions do not already check.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
