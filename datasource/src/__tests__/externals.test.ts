// Required, not imported: the webpack configuration is outside the TypeScript project of src/.
const shared: { modules: string[] } = require('../../.config/webpack/grafana-shared-modules.json');
const { externals, grafanaSharedModules } = require('../../.config/webpack/externals');

// The webpack externals are what module.js asks Grafana's SystemJS for at runtime: each must be a module
// Grafana shares with plugins in every supported version (12.4, 13.x), or the plugin fails to load.
describe('webpack externals', () => {
  it('are the AMD module meta and exactly the modules Grafana shares', () => {
    expect(externals).toEqual([{ 'amd-module': 'module' }, ...shared.modules]);
    expect(grafanaSharedModules).toEqual(shared.modules);
  });

  it('are names only: no pattern or function that would externalise unshared subpaths', () => {
    for (const e of (externals as unknown[]).slice(1)) {
      expect(typeof e).toBe('string');
    }
  });

  it('leave out what Grafana does not share, so it is bundled', () => {
    for (const name of ['@grafana/i18n', '@grafana/schema', '@grafana/e2e-selectors', 'angular']) {
      expect(grafanaSharedModules).not.toContain(name);
    }
  });

  it('keep React and its JSX runtime shared, never bundled (React 19 renamed the internals a bundled runtime uses)', () => {
    for (const name of ['react', 'react-dom', 'react/jsx-runtime', 'react/jsx-dev-runtime']) {
      expect(grafanaSharedModules).toContain(name);
    }
  });
});
