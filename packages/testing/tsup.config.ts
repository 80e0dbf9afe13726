import { packageConfig } from '../../tsup.base';

export default packageConfig({ external: ['@jest/globals', '@mageflow/core'] });
