import { packageConfig } from '../../tsup.base';

export default packageConfig({ entry: ['src/index.ts', 'src/race-worker.ts'], external: ['@jest/globals', '@mageflow/core'] });
