// Shared jest setup: TypeScript through SWC, workspace packages resolved to their
// source (the "@mageflow/source" export condition), and typebox (ESM-only) transformed.
module.exports = {
  testEnvironment: 'node',
  testEnvironmentOptions: { customExportConditions: ['@mageflow/source', 'node', 'require', 'default'] },
  transform: {
    '^.+\\.(t|mj|j)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/typebox@|typebox/))'],
  moduleFileExtensions: ['ts', 'mjs', 'js', 'json'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
};
