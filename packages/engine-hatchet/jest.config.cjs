const preset = require('../../jest.preset.cjs');

module.exports = {
  ...preset,
  // Lua scripts are imported as text, as the build does.
  transform: { ...preset.transform, '\\.lua$': '<rootDir>/test/lua-transform.cjs' },
  moduleFileExtensions: [...preset.moduleFileExtensions, 'lua'],
};
