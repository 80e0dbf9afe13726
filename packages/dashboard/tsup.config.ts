import { packageConfig } from '../../tsup.base';

// `shims`: the page's folder is found from __dirname in both builds.
export default packageConfig({ entry: ['src/index.ts', 'src/cli.ts'], shims: true, external: ['@mageflow/core', '@mageflow/store-redis'] });
