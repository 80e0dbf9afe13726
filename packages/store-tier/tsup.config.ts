import { packageConfig } from '../../tsup.base';

export default packageConfig({ external: ['@mageflow/core', '@mageflow/store-postgres', 'ioredis', 'pg'] });
