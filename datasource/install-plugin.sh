#!/bin/sh
# Installs the built plugin into Grafana's plugins volume: the command of the
# one-shot plugin image (datasource/Dockerfile) that docker compose runs
# before Grafana starts.
#
# Replace, not merge: a rebuilt plugin must not keep files of the old one.
# The volume is created root-owned; Grafana's image runs as uid 472, gid 0,
# and must be able to write there (its preinstalled apps, installs from the
# UI), so the volume and everything in it is handed to that user.
set -eu
src=${PLUGIN_SRC:-/plugin}
dir=${PLUGINS_DIR:-/plugins}
owner=${GRAFANA_UID:-472}:${GRAFANA_GID:-0}
id=storepulse-kpi-datasource

rm -rf "$dir/$id.new"
cp -R "$src" "$dir/$id.new"
rm -rf "$dir/$id"
mv "$dir/$id.new" "$dir/$id"
chown -R "$owner" "$dir"
chmod 0775 "$dir"
echo "$id installed into $dir (owner $owner)"
