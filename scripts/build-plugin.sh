#!/usr/bin/env bash
# Builds the Grafana plugin storepulse-kpi-datasource (make plugin) in the layout Grafana's plugin validator
# expects, and the source archive to submit with it:
#
#   dist/<id>-<version>-source/ and dist/<id>-<version>-source.zip
#       the plugin's source in the layout the validator reads (go.mod next to package.json and src/):
#       datasource/'s package.json, lock, src/, .config/ and configs at the top, beside the repository's
#       go.mod, go.sum, LICENSE, Magefile.go and the Go packages the backend is built from, at their paths
#       in the module (datasource/pkg/..., internal/...). The repository keeps its single Go module.
#   datasource/dist/
#       module.js and module.js.map (the validator compares the map with src/), plugin.json with version
#       and date filled in, README, CHANGELOG, LICENSE, logo, screenshots, and from the plugin SDK's build
#       tooling (Magefile.go, run with mage inside the staged source tree): the backend for linux, darwin
#       and windows amd64, linux and darwin arm64, and go_plugin_build_manifest, the sha256 of every .go
#       file of that source tree.
#   dist/<id>-<version>.zip
#       datasource/dist/ under a top-level folder named by the plugin id (what `grafana cli plugins
#       install` and an unzip into the plugins directory expect), executables 0755.
#
# scripts/checkplugin (make plugin-check) checks the result against the validator's rules.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DS=$ROOT/datasource
DIST=$DS/dist
GO=${GO:-go}
export GOFLAGS=${GOFLAGS:-}

# Frontend dependencies exactly as locked; skipped when node_modules matches the lock file.
if [[ ! -f $DS/node_modules/.package-lock.json || $DS/package-lock.json -nt $DS/node_modules/.package-lock.json ]]; then
  (cd "$DS" && npm ci --no-audit --no-fund)
fi
(cd "$DS" && npm run -s build)

id=$(node -p "require('$DIST/plugin.json').id")
version=$(node -p "require('$DIST/plugin.json').info.version")

# The plugin's source tree (scripts/stage-plugin-source.sh, which datasource/Dockerfile uses too).
src=$ROOT/dist/$id-$version-source
rm -rf "$src" "$src.zip"
GO=$GO scripts/stage-plugin-source.sh "$src"

# The backend and its build manifest, with the SDK's tooling, in the source tree: what was built is what
# the manifest lists.
(cd "$src" && $GO run github.com/magefile/mage -v)
exe=$(node -p "require('$DIST/plugin.json').executable")
cp "$src"/dist/"${exe}"_* "$src/dist/go_plugin_build_manifest" "$DIST/"
chmod 0755 "$DIST"/"${exe}"_*
chmod 0644 "$DIST/go_plugin_build_manifest"
rm -rf "$src/dist"

command -v zip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip >/dev/null; }
zipfile=$ROOT/dist/$id-$version.zip
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$DIST" "$stage/$id"
rm -f "$zipfile"
(cd "$stage" && zip -qr -X "$zipfile" "$id")
(cd "$ROOT/dist" && zip -qr -X "$src.zip" "$(basename "$src")")
echo "plugin: ${DIST#"$ROOT"/}/, ${zipfile#"$ROOT"/} and its source ${src#"$ROOT"/}.zip"
