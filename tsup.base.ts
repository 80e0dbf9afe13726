import { defineConfig, type Options } from 'tsup';

/** How every published package builds: ESM and CJS with type declarations, from src/index.ts. */
export function packageConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...overrides,
  });
}
