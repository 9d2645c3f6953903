#!/usr/bin/env bash
# The catalog screenshots of plugin.json (datasource/src/img/screenshot-*.png), made from the plugin's real
# editors: datasource/screenshots/render.test.tsx renders them with @grafana/ui's dark theme in jsdom and
# writes static pages (markup and styles) to datasource/screenshots/out/; headless Chromium photographs
# them at 1280x800. Without Grafana's global stylesheet, so fonts and some spacing differ slightly from
# Grafana. Used by `make plugin-screenshots`; installs Chromium from apt when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../datasource"
command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
npx jest --rootDir . --testMatch '<rootDir>/screenshots/**/*.test.tsx'
for page in query-editor config-editor; do
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --hide-scrollbars \
    --window-size=1280,800 --screenshot="$PWD/src/img/screenshot-$page.png" "file://$PWD/screenshots/out/$page.html"
done
echo "screenshots: datasource/src/img/screenshot-{query-editor,config-editor}.png"
