import { packageConfig } from '../../tsup.base';

export default packageConfig({ external: ['@mageflow/core', '@hatchet-dev/typescript-sdk'] });
