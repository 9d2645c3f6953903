/*
 * The webpack externals: exactly the modules Grafana shares with plugins at runtime
 * (grafana-shared-modules.json, checked against Grafana 12.4 and 13.x), plus the AMD `module` meta for the
 * public path. Everything else a plugin imports is bundled: an external Grafana does not share fails the
 * plugin's load with "Unable to resolve bare specifier".
 */
import type { Configuration } from 'webpack';

import shared from './grafana-shared-modules.json';

export const grafanaSharedModules: readonly string[] = shared.modules;

export const externals: Configuration['externals'] = [{ 'amd-module': 'module' }, ...grafanaSharedModules];
