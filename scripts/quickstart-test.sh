#!/usr/bin/env bash
# Follows README.md's "Quick start (from source)" on a fresh clone of this repository's HEAD (make
# quickstart-check, part of make test): the fenced ```sh blocks of that section are extracted from the
# clone's README, so editing the README changes what is tested, and run as they are with two changes:
#   - ports and directories: InfluxDB's 8086 and 8088 and the ingest's 8080 become free loopback ports, and
#     /tmp/influx and /tmp/storepulse a temporary directory, so that runs on a shared machine do not collide
#     (STOREPULSE_INFLUX_URL points the ingest's default localhost:8086 at InfluxDB's port);
#   - `make tools` finds this checkout's .tools/bin/influxd and golangci-lint (or those beside
#     $STOREPULSE_INFLUXD) copied into the clone, when there are some: what `make tools` builds is pinned
#     and slow to build (InfluxDB takes minutes).
# Then it checks what the quick start promises: every `# {...}` line of the blocks (an answer shown) is
# printed by the commands, and the event posted reaches InfluxDB (its store's tag value in the database
# storepulse). Every process the quick start started is stopped at the end (its own process group).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pgid=""
cleanup() {
  if [[ -n $pgid ]]; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pinflux=$(freeport); prpc=$(freeport); pingest=$(freeport)

git clone -q --no-checkout "$ROOT" "$tmp/repo"
git -C "$tmp/repo" checkout -q --detach "$(git -C "$ROOT" rev-parse HEAD)"
# .tools/ of this checkout, or the directory of $STOREPULSE_INFLUXD (the tests' InfluxDB) when it has none.
tools=$ROOT/.tools/bin
[[ -x $tools/influxd || -z ${STOREPULSE_INFLUXD:-} ]] || tools=$(dirname "$STOREPULSE_INFLUXD")
mkdir -p "$tmp/repo/.tools/bin"
for t in influxd golangci-lint; do
  if [[ -x $tools/$t ]]; then cp -p "$tools/$t" "$tmp/repo/.tools/bin/"; fi
done

awk '/^## Quick start \(from source\)/{on=1; next} on && /^## /{exit} on && /^```sh$/{code=1; next} code && /^```$/{code=0; next} code' \
  "$tmp/repo/README.md" > "$tmp/quickstart.sh"
[[ -s $tmp/quickstart.sh ]] || { echo "quickstart-test: no \`\`\`sh block in README.md's \"Quick start (from source)\"" >&2; exit 1; }
sed -i -e "s#127\.0\.0\.1:8086#127.0.0.1:$pinflux#g; s#localhost:8086#127.0.0.1:$pinflux#g" \
  -e "s#127\.0\.0\.1:8088#127.0.0.1:$prpc#g" \
  -e "s#--listen :8080#--listen 127.0.0.1:$pingest#g; s#localhost:8080#127.0.0.1:$pingest#g" \
  -e "s#/tmp/influx#$tmp/influx#g; s#/tmp/storepulse#$tmp/storepulse#g" "$tmp/quickstart.sh"
left=$(grep -v -F "$tmp" "$tmp/quickstart.sh" | grep -n -E '(^|[^0-9])(8086|8088|8080)([^0-9]|$)|/tmp/' || true)
if [[ -n $left ]]; then
  echo "quickstart-test: README's quick start uses a port or a /tmp directory this script does not map to a private one:" >&2
  echo "$left" >&2
  exit 1
fi

# The quick start in its own process group (setsid), so that its background processes are stopped with it.
echo "quickstart-test: running README's quick start in $tmp/repo (InfluxDB 127.0.0.1:$pinflux, ingest 127.0.0.1:$pingest)"
# The ingest's default influx.url (localhost:8086) follows InfluxDB's port through the environment; the
# README's wait loops are bounded by timeout.
(cd "$tmp/repo" && export STOREPULSE_INFLUX_URL=http://127.0.0.1:$pinflux &&
  exec setsid timeout 240 bash -euo pipefail "$tmp/quickstart.sh" > "$tmp/out" 2> "$tmp/err") &
wait_pid=$!
# setsid execs in place (a background subshell leads no group), so the group's id is that pid.
pgid=$wait_pid
if ! wait "$wait_pid"; then
  echo "quickstart-test: FAILED: the quick start's commands exited with an error" >&2
  cat "$tmp/out" "$tmp/err" >&2
  exit 1
fi

fail() { echo "quickstart-test: FAILED: $*" >&2; echo "--- stdout" >&2; cat "$tmp/out" >&2; echo "--- stderr" >&2; tail -40 "$tmp/err" >&2; exit 1; }
# Every answer the README shows (a "# {" line) was printed.
while IFS= read -r want; do
  grep -qF -- "$want" "$tmp/out" || fail "README shows the answer $want; the commands did not print it"
done < <(sed -n 's/^# \({.*\)$/\1/p' "$tmp/quickstart.sh")

# The event reaches InfluxDB (the ingest seals and writes within spool.seal_interval, 5 s by default).
for _ in $(seq 60); do
  if curl -s --max-time 5 "http://127.0.0.1:$pinflux/query" --data-urlencode 'db=storepulse' \
       --data-urlencode 'q=SHOW TAG VALUES WITH KEY = "store"' | grep -q 'tmall-01'; then
    echo "quickstart-test: ok (the event posted is in InfluxDB)"
    exit 0
  fi
  sleep 1
done
fail "the event posted did not reach InfluxDB within 60 s"
