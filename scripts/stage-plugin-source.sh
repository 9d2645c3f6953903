#!/usr/bin/env bash
# Stages the Grafana plugin's source tree into DEST (which must not exist or be empty), in the layout the
# plugin validator reads and Magefile.go builds from: datasource/'s package.json, lock, src/, .config/ and
# configs at the top (one package.json: datasource/react19/, the React 19 test run, stays out), beside the
# repository's go.mod, go.sum, LICENSE, Magefile.go and the Go packages of this module the backend
# (./datasource/pkg) imports on any target OS, their non-test .go and embedded files, at their paths.
#
# Used by scripts/build-plugin.sh (make plugin) and datasource/Dockerfile (the compose image), so that
# both build the backend and its go_plugin_build_manifest from the same tree. Needs go and tar only.
#
#   scripts/stage-plugin-source.sh DEST
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DEST" >&2; exit 2; }
dest=$1
cd "$(dirname "$0")/.."
ROOT=$PWD
DS=$ROOT/datasource
GO=${GO:-go}

mkdir -p "$dest"
tar -C "$DS" -cf - --exclude=./node_modules --exclude=./dist --exclude=./pkg --exclude=./cmd --exclude=./bench \
  --exclude=./Dockerfile --exclude=./react19 --exclude=./screenshots/out --exclude='.eslintcache' . | tar -C "$dest" -xf -
cp go.mod go.sum LICENSE Magefile.go "$dest/"
for os in linux darwin windows; do
  GOOS=$os $GO list -deps -f '{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .IgnoredGoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}' ./datasource/pkg
done | grep -v '_test\.go$' | sort -u | while read -r f; do
  rel=${f#"$ROOT"/}
  mkdir -p "$dest/$(dirname "$rel")"
  cp "$f" "$dest/$rel"
done
