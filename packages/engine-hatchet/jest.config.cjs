const preset = require('../../jest.preset.cjs');

module.exports = {
  ...preset,
  // The Redis store's Lua scripts are imported as text, as its build does.
  transform: { ...preset.transform, '\\.lua$': '<rootDir>/test/lua-transform.cjs' },
  moduleFileExtensions: [...preset.moduleFileExtensions, 'lua'],
  // The Hatchet SDK keeps gRPC channels open after its workers stop and offers no
  // way to close them; without this jest would wait on them forever.
  forceExit: true,
};
