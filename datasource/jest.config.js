// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // d3-color (through @grafana/data) resolves to an ES module with the .mjs extension: transform it too.
  transform: {
    ...base.transform,
    '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'],
  },
  moduleFileExtensions: ['js', 'mjs', 'cjs', 'jsx', 'ts', 'tsx', 'json', 'node'],
  // Editor tests drive react-select menus with userEvent, a few seconds each on a loaded CI machine: jest's
  // 5 s default makes them flaky, not faster.
  testTimeout: 20000,
};
