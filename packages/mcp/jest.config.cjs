const preset = require('../../jest.preset.cjs');

module.exports = {
  ...preset,
  // @mageflow/store-redis runs from source here: its Lua scripts are imported as text, as its build does.
  transform: { ...preset.transform, '\\.lua$': '<rootDir>/../store-redis/test/lua-transform.cjs' },
  moduleFileExtensions: [...preset.moduleFileExtensions, 'lua'],
  testTimeout: 60_000,
};
