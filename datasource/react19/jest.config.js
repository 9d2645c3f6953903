// The plugin's jest suite once more against React 19 and the @grafana/* packages of Grafana 13.2 (the
// runtime of Grafana >= 13.2), installed in this directory: `make frontend-test` runs it after the default
// run (React 18, @grafana/* 12.4). Same configuration as ../jest.config.js, with the resolver that takes
// react19/package.json's packages from react19/node_modules.
const fs = require('fs');
const path = require('path');

const base = require('../jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('../.config/jest/utils');

// esModules lists the packages of react19/node_modules published as ES modules ("type": "module"), which the
// CommonJS builds of the @grafana/* 13 packages require (@react-hookz/web, @ver0/deep-equal, ...): jest
// transforms them like the scaffolding's grafanaESModules.
function esModules() {
  const root = path.join(__dirname, 'node_modules');
  const names = [];
  const visit = (dir) => {
    let pkg;
    try {
      pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    } catch {
      return;
    }
    if (pkg.type === 'module' && pkg.name) {
      names.push(pkg.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    }
  };
  for (const entry of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    if (entry.startsWith('@')) {
      for (const sub of fs.readdirSync(path.join(root, entry))) {
        visit(path.join(root, entry, sub));
      }
    } else {
      visit(path.join(root, entry));
    }
  }
  return names;
}

module.exports = {
  ...base,
  rootDir: path.resolve(__dirname, '..'),
  resolver: '<rootDir>/.config/jest/react19-resolver.js',
  transformIgnorePatterns: [nodeModulesToTransform([...grafanaESModules, ...esModules()])],
  // The suite must know which React it runs on (src/__tests__/reactVersion.test.tsx).
  globals: { ...base.globals, EXPECTED_REACT_MAJOR: 19 },
};
