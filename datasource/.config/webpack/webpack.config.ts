/*
 * Webpack configuration in the layout @grafana/create-plugin sets up (.config/webpack), written by hand and
 * trimmed to what a production build needs: an AMD module.js whose externals are exactly the modules Grafana
 * shares at runtime (externals.ts), with its source map (module.js.map, kept in the package for the plugin
 * validator), plugin.json / README.md / CHANGELOG.md / LICENSE / logo / screenshots copied into dist/ with
 * %VERSION% and %TODAY% filled in.
 * The Go backend binaries are built by `make plugin` into the same dist/ and kept across rebuilds.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import fs from 'fs';
import path from 'path';
import ReplaceInFileWebpackPlugin from 'replace-in-file-webpack-plugin';
import TerserPlugin from 'terser-webpack-plugin';
import webpack, { type Configuration } from 'webpack';
import VirtualModulesPlugin from 'webpack-virtual-modules';

import { externals } from './externals';

const SOURCE_DIR = 'src';
const DIST_DIR = 'dist';

type Env = { [key: string]: true | string | Env };

const loadJson = (file: string) => JSON.parse(fs.readFileSync(path.resolve(process.cwd(), file), 'utf8'));
const pluginJson = loadJson(`${SOURCE_DIR}/plugin.json`);
const pluginVersion: string = loadJson('package.json').version;
const logoPaths = Array.from(new Set([pluginJson.info?.logos?.large, pluginJson.info?.logos?.small])).filter(Boolean);
const screenshotPaths: string[] = (pluginJson.info?.screenshots ?? []).map((s: { path: string }) => s.path);

const config = async (env: Env): Promise<Configuration> => ({
  cache: { type: 'filesystem', buildDependencies: { config: ['webpack.config.ts', 'externals.ts', 'grafana-shared-modules.json'].map((f) => path.resolve(process.cwd(), '.config', 'webpack', f)) } },
  context: path.join(process.cwd(), SOURCE_DIR),
  devtool: env.production ? 'source-map' : 'eval-source-map',
  entry: { module: './module.ts' },
  externals,
  mode: env.production ? 'production' : 'development',
  module: {
    rules: [
      {
        test: /src\/(?:.*\/)?module\.tsx?$/,
        use: [{ loader: 'imports-loader', options: { imports: 'side-effects grafana-public-path' } }],
      },
      {
        exclude: /(node_modules)/,
        test: /\.[tj]sx?$/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              baseUrl: path.resolve(process.cwd(), SOURCE_DIR),
              target: 'es2015',
              loose: false,
              parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
            },
          },
        },
      },
      {
        test: /\.(png|jpe?g|gif|svg)$/,
        type: 'asset/resource',
        generator: { filename: env.production ? '[hash][ext]' : '[file]' },
      },
    ],
  },
  optimization: {
    minimize: Boolean(env.production),
    minimizer: [new TerserPlugin({ terserOptions: { compress: { drop_console: ['log', 'info'] } } })],
  },
  output: {
    // keep the Go backend binaries built by `make plugin`
    clean: { keep: /(.*?_(amd64|arm(64)?)(\.exe)?|go_plugin_build_manifest)/ },
    filename: '[name].js',
    chunkFilename: env.production ? '[name].js?_cache=[contenthash]' : '[name].js',
    library: { type: 'amd' },
    path: path.resolve(process.cwd(), DIST_DIR),
    publicPath: `public/plugins/${pluginJson.id}/`,
    uniqueName: pluginJson.id,
    crossOriginLoading: 'anonymous',
  },
  plugins: [
    new VirtualModulesPlugin({
      'node_modules/grafana-public-path.js': `
import amdMetaModule from 'amd-module';

__webpack_public_path__ =
  amdMetaModule && amdMetaModule.uri
    ? amdMetaModule.uri.slice(0, amdMetaModule.uri.lastIndexOf('/') + 1)
    : 'public/plugins/${pluginJson.id}/';
`,
    }),
    new webpack.BannerPlugin({
      banner: `/* plugin: ${pluginJson.id}@${pluginVersion} */`,
      raw: true,
      entryOnly: true,
    }),
    new CopyWebpackPlugin({
      patterns: [
        { from: '../README.md', to: '.', force: true },
        { from: 'plugin.json', to: '.' },
        { from: '../../LICENSE', to: '.', noErrorOnMissing: true },
        { from: '../CHANGELOG.md', to: '.', force: true },
        ...logoPaths.map((logoPath) => ({ from: logoPath, to: logoPath })),
        ...screenshotPaths.map((p) => ({ from: p, to: p })),
      ],
    }),
    new ReplaceInFileWebpackPlugin([
      {
        dir: DIST_DIR,
        test: [/(^|\/)plugin\.json$/, /(^|\/)README\.md$/],
        rules: [
          { search: /%VERSION%/g, replace: pluginVersion },
          { search: /%TODAY%/g, replace: new Date().toISOString().substring(0, 10) },
          { search: /%PLUGIN_ID%/g, replace: pluginJson.id },
        ],
      },
    ]),
  ],
  resolve: {
    extensions: ['.js', '.jsx', '.ts', '.tsx'],
    modules: [path.resolve(process.cwd(), 'src'), 'node_modules'],
    unsafeCache: true,
  },
});

export default config;
