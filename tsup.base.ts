import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

export interface PackageConfigOptions {
  /**
   * Dependencies bundled into the CommonJS build only; the ESM build keeps them
   * external. For ESM-only dependencies (typebox): `require()` of an ES module
   * fails on Node 22.0 to 22.11 and in jest's CommonJS runtime, both of which
   * our `engines` range admits.
   */
  cjsNoExternal?: string[];
}

/** How every published package builds: ESM and CJS with type declarations, from src/index.ts. */
export function packageConfig(overrides: Options = {}, { cjsNoExternal = [] }: PackageConfigOptions = {}) {
  const base: Options = {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...overrides,
  };
  if (cjsNoExternal.length === 0) return defineConfig(base);
  // Two builds that differ in what they bundle. They run in parallel, so neither
  // may clean the output folder (one would delete the other's files): it is
  // cleaned once here, before both start.
  return defineConfig((cli) => {
    if (!cli.watch) rmSync(overrides.outDir ?? 'dist', { recursive: true, force: true });
    return [
      { ...base, format: ['esm'], clean: false },
      { ...base, format: ['cjs'], clean: false, noExternal: [...(base.noExternal ?? []), ...cjsNoExternal] },
    ];
  });
}
