#!/usr/bin/env bash
# Builds the Grafana plugin storepulse-kpi-datasource into datasource/dist/ (frontend module.js, plugin.json
# with version and date filled in, README, CHANGELOG, logo, the Go backend for every target Grafana runs on)
# and zips it as dist/<id>-<version>.zip with the top-level folder named by the plugin id, the layout
# `grafana cli plugins install` and an unzip into the plugins directory expect. Used by `make plugin`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DS=$ROOT/datasource
DIST=$DS/dist
GO=${GO:-go}

TARGETS=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64)

# Frontend dependencies exactly as locked; skipped when node_modules matches the lock file.
if [[ ! -f $DS/node_modules/.package-lock.json || $DS/package-lock.json -nt $DS/node_modules/.package-lock.json ]]; then
  (cd "$DS" && npm ci --no-audit --no-fund)
fi
(cd "$DS" && npm run -s build)

id=$(node -p "require('$DIST/plugin.json').id")
exe=$(node -p "require('$DIST/plugin.json').executable")
version=$(node -p "require('$DIST/plugin.json').info.version")

for t in "${TARGETS[@]}"; do
  os=${t%/*} arch=${t#*/}
  out=$DIST/${exe}_${os}_${arch}
  [[ $os == windows ]] && out+=.exe
  echo "go build $t -> ${out#"$ROOT"/}"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -ldflags "-s -w" -o "$out" ./datasource/pkg
done

command -v zip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip >/dev/null; }
mkdir -p "$ROOT/dist"
zipfile=$ROOT/dist/$id-$version.zip
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$DIST" "$stage/$id"
find "$stage/$id" -name '*.map' -delete
chmod 0755 "$stage/$id"/"${exe}"_*
rm -f "$zipfile"
(cd "$stage" && zip -qr -X "$zipfile" "$id")
echo "plugin: ${DIST#"$ROOT"/}/ and ${zipfile#"$ROOT"/}"
