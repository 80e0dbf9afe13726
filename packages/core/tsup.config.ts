import { packageConfig } from '../../tsup.base';

// typebox ships only ES modules; the CommonJS build carries its own copy so that
// require('@mageflow/core') works on every Node our engines field admits.
export default packageConfig({}, { cjsNoExternal: ['typebox'] });
