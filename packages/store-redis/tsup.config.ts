import { packageConfig } from '../../tsup.base';

// Lua scripts are bundled as text.
export default packageConfig({ loader: { '.lua': 'text' }, external: ['@mageflow/core', 'ioredis'] });
