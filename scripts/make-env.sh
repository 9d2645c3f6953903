#!/usr/bin/env bash
# make env: writes .env for docker compose from .env.example with fresh random
# secrets (InfluxDB, ingest token, Grafana admin) and the ingest token's
# SHA-256 (the service is only ever given the hash). Portable (Linux, macOS,
# BSD: sha256sum, shasum or openssl), all or nothing: .env appears complete
# or not at all, and any failure stops with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.env}

if [ -e "$out" ]; then
  echo "make env: $out exists; remove it to regenerate" >&2
  exit 1
fi

rand() { # n bytes of randomness as URL- and sed-safe text: always 4n/3 characters
  local want=$(( $1 * 4 / 3 )) s=''
  while [ "${#s}" -lt "$want" ]; do # base64 less '/', '+' and '=' is a little short, now and then
    s+=$(head -c "$1" /dev/urandom | base64 | tr -d '/+=\n')
  done
  printf '%s' "${s:0:$want}"
}

sha256() { # the hex SHA-256 of stdin
  local h
  if command -v sha256sum >/dev/null 2>&1; then
    h=$(sha256sum | cut -d' ' -f1)
  elif command -v shasum >/dev/null 2>&1; then
    h=$(shasum -a 256 | cut -d' ' -f1)
  elif command -v openssl >/dev/null 2>&1; then
    h=$(openssl dgst -sha256 -r | cut -d' ' -f1)
  else
    echo "make env: no SHA-256 tool found (sha256sum, shasum or openssl)" >&2
    return 1
  fi
  if ! [[ $h =~ ^[0-9a-f]{64}$ ]]; then
    echo "make env: the SHA-256 tool printed '$h', not a hash" >&2
    return 1
  fi
  printf '%s' "$h"
}

tok=$(rand 24)
hash=$(printf %s "$tok" | sha256)
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"
sed -e "s#^INFLUXDB_ADMIN_PASSWORD=.*#INFLUXDB_ADMIN_PASSWORD=$(rand 18)#" \
    -e "s#^INFLUXDB_ADMIN_TOKEN=.*#INFLUXDB_ADMIN_TOKEN=$(rand 32)#" \
    -e "s#^STOREPULSE_TOKEN=.*#STOREPULSE_TOKEN=$tok#" \
    -e "s#^STOREPULSE_TOKEN_SHA256=.*#STOREPULSE_TOKEN_SHA256=$hash#" \
    -e "s#^GRAFANA_ADMIN_PASSWORD=.*#GRAFANA_ADMIN_PASSWORD=$(rand 18)#" \
    .env.example > "$tmp"
grep -q '^STOREPULSE_TOKEN_SHA256=' "$tmp" || echo "STOREPULSE_TOKEN_SHA256=$hash" >> "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out (keep it secret): Grafana login admin / GRAFANA_ADMIN_PASSWORD in $out;" \
  "set STOREPULSE_ONCALL_WEBHOOK_URL, STOREPULSE_ALERT_EMAILS and GRAFANA_SMTP_* for alert notifications"
