/*
 * Jest resolver of the React 19 run (react19/jest.config.js): the packages react19/package.json lists (React 19,
 * react-dom 19, the @grafana/* packages of Grafana 13.2, Testing Library, rxjs, @emotion/css) resolve from
 * react19/node_modules for every module outside that directory, so the plugin's sources, its tests and the test
 * tools of ../node_modules (user-event, jest-dom) all see one React 19 instance. Modules inside react19/ resolve
 * as usual (their own nested versions included); everything else comes from ../node_modules.
 */
const path = require('path');

const REACT19_DIR = path.resolve(__dirname, '..', '..', 'react19');
const REDIRECTED = new Set(Object.keys(require(path.join(REACT19_DIR, 'package.json')).dependencies));

// packageName returns the npm package a bare import names ("react" for "react/jsx-runtime", "@grafana/ui" for
// "@grafana/ui/unstable"), or undefined for a relative or absolute path.
function packageName(request) {
  if (request.startsWith('.') || path.isAbsolute(request)) {
    return undefined;
  }
  const parts = request.split('/');
  return request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

module.exports = (request, options) => {
  const inside = options.basedir === REACT19_DIR || options.basedir.startsWith(REACT19_DIR + path.sep);
  if (!inside && REDIRECTED.has(packageName(request))) {
    return options.defaultResolver(request, { ...options, basedir: REACT19_DIR });
  }
  return options.defaultResolver(request, options);
};
