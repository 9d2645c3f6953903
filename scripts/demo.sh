#!/usr/bin/env bash
# StorePulse demo without Docker: a real InfluxDB 1.8 (built by `make tools`
# into .tools/bin), storepulse-ingest, a backfill of simulated stores and the
# simulator's live feed, all local, all state in $DEMO_DIR (default .demo/,
# git-ignored and wiped at every start). Ctrl-C or SIGTERM stops everything.
#
#   make demo                              # 10 stores, 90 days of history
#   DEMO_DAYS=2 DEMO_STORES=2 make demo    # small and fast
#
# Environment: DEMO_DAYS (90), DEMO_STORES (10), DEMO_SCALE (1), DEMO_SEED (1),
# DEMO_LIVE_DAYS (30, horizon of the live feed), DEMO_DIR (.demo),
# DEMO_INFLUX_PORT (8086), DEMO_INFLUX_RPC_PORT (8088), DEMO_INGEST_PORT (8080).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P) # physical, as make's CURDIR
cd "$root"

days=${DEMO_DAYS:-90}
stores=${DEMO_STORES:-10}
scale=${DEMO_SCALE:-1}
seed=${DEMO_SEED:-1}
live_days=${DEMO_LIVE_DAYS:-30}
state=${DEMO_DIR:-$root/.demo}
influx_port=${DEMO_INFLUX_PORT:-8086}
influx_rpc_port=${DEMO_INFLUX_RPC_PORT:-8088}
ingest_port=${DEMO_INGEST_PORT:-8080}
db=storepulse
bucket=$db/autogen # InfluxDB 1.8 names the v2 bucket "database/retention-policy"
influx_url=http://127.0.0.1:$influx_port
ingest_url=http://127.0.0.1:$ingest_port

log() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in DEMO_DAYS:days DEMO_STORES:stores DEMO_LIVE_DAYS:live_days DEMO_SEED:seed DEMO_INFLUX_PORT:influx_port \
	DEMO_INFLUX_RPC_PORT:influx_rpc_port DEMO_INGEST_PORT:ingest_port; do
	name=${v#*:}
	val=${!name}
	[[ $val =~ ^[0-9]+$ && $val -gt 0 ]] || die "${v%%:*} must be a positive integer, got '$val'"
done
((stores <= 100)) || die "DEMO_STORES must be at most 100"
# The late-event horizon is 100 days, counted from when an event arrives.
((days <= 99)) || die "DEMO_DAYS must be at most 99 (the demo's late-event horizon is 100 days)"
command -v curl >/dev/null || die "curl is needed"

# --- processes and clean shutdown -----------------------------------------
# Job control (set -m, on only while a child starts: with it on, bash would
# print job notices) puts every background child in its own process group, so Ctrl-C
# on the terminal reaches only this script (Go programs would otherwise catch
# it themselves, and InfluxDB could stop before the ingest service has
# flushed). The trap stops the children in reverse start order: the
# simulator, the ingest service (it flushes its spool to InfluxDB on SIGTERM),
# InfluxDB last.
pids=()   # started processes, in start order
names=()
stop_one() { # pid name
	local pid=$1 name=$2 i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 600; i++)); do # up to 60 s for a graceful stop
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name did not stop within 60s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	trap '' INT TERM # a second Ctrl-C must not abandon the children
	trap - EXIT
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_one "${pids[i]}" "${names[i]}"
	done
	((${#pids[@]} == 0)) || log "stopped; data and logs stay in $state"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# start_bg name logfile cmd... starts cmd in the background (stderr to
# logfile, or to the terminal when logfile is -) and sets last_pid.
# (No negative array indices: macOS ships bash 3.2.)
last_pid=
start_bg() {
	local name=$1 logfile=$2
	shift 2
	set -m
	if [[ $logfile == - ]]; then
		"$@" &
	else
		"$@" >>"$logfile" 2>&1 &
	fi
	last_pid=$!
	set +m
	pids+=("$last_pid")
	names+=("$name")
}
# forget_last drops the last started process (it has ended) from the list.
forget_last() { unset "pids[$((${#pids[@]} - 1))]" "names[$((${#names[@]} - 1))]"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # name url pid seconds
	local name=$1 url=$2 pid=$3 i
	for ((i = 0; i < $4 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$name exited at start-up; see its log"
		curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	die "$name did not answer $url within $4 s"
}

utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }

# --- build ------------------------------------------------------------------
log "building bin/storepulse-ingest, bin/storepulse-sim, bin/storepulse-digest and .tools/bin/influxd (first time: a few minutes)"
make --no-print-directory build
# Only influxd of `make tools`: the linter is not needed to run the demo.
make --no-print-directory "$root/.tools/bin/influxd"

for p in "$influx_port" "$influx_rpc_port" "$ingest_port"; do
	port_free "$p" || die "port $p is in use (set DEMO_INFLUX_PORT, DEMO_INFLUX_RPC_PORT or DEMO_INGEST_PORT)"
done

# A fresh state every run: a second backfill into old data would count
# events again once they are outside the de-duplication window.
rm -rf "$state"
mkdir -p "$state/influxdb" "$state/ingest" "$state/logs"
chmod 700 "$state"

# --- InfluxDB 1.8 with Flux and the v2 API -----------------------------------
cat >"$state/influxdb/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$influx_rpc_port"
[meta]
  dir = "$state/influxdb/meta"
[data]
  dir = "$state/influxdb/data"
  wal-dir = "$state/influxdb/wal"
  query-log-enabled = false
  # tsi1: cold screens do not slow down as history grows (docs/operations.md).
  index-version = "tsi1"
[http]
  bind-address = "127.0.0.1:$influx_port"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
CONF
start_bg influxd "$state/logs/influxd.log" "$root/.tools/bin/influxd" -config "$state/influxdb/influxdb.conf"
wait_http influxd "$influx_url/health" "$last_pid" 60
curl -fsS -o /dev/null -XPOST "$influx_url/query" --data-urlencode "q=CREATE DATABASE $db"
log "InfluxDB 1.8 at $influx_url, database $db"

# --- storepulse-ingest ----------------------------------------------------------
token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$token" >"$state/token"
chmod 600 "$state/token"
token_sha=$(printf %s "$token" | bin/storepulse-ingest hash-token)
config=$state/storepulse-ingest.yaml
cat >"$config" <<YAML
# Generated by scripts/demo.sh. The token is only here as its SHA-256.
listen: 127.0.0.1:$ingest_port
data_dir: $state/ingest
ingester: demo
timezone: Asia/Shanghai
influx:
  url: $influx_url
  token: ""        # InfluxDB 1.8 runs without authentication here
  org: storepulse
  bucket: $bucket
limits:
  late_horizon: 2400h # 100 days: the backfill sends up to DEMO_DAYS of history
auth:
  tokens:
    - name: demo
      sha256: "$token_sha"
log:
  level: info
  format: text
YAML
chmod 600 "$config"
start_bg storepulse-ingest "$state/logs/ingest.log" bin/storepulse-ingest --config "$config"
wait_http storepulse-ingest "$ingest_url/readyz" "$last_pid" 30
log "storepulse-ingest at $ingest_url"

# --- backfill, then live ---------------------------------------------------------
# Both runs meet at the start of the current hour: the backfill ends there and
# the live feed starts there, so no hour is sent twice or missed.
now=$(date +%s)
hour=$((now - now % 3600))
backfill_start=$(utc $((hour - days * 86400)))
live_start=$(utc "$hour")
sim=(bin/storepulse-sim --url "$ingest_url" --token "$token" --seed "$seed" --stores "$stores" --scale "$scale")
log "backfill: $stores stores, $days days from $backfill_start"
# In the background with wait, so that Ctrl-C is handled at once; its
# progress bar and log go to the terminal.
start_bg storepulse-sim-backfill - "${sim[@]}" backfill --days "$days" --start "$backfill_start" \
	--campaigns "$state/campaigns.json" --targets "$state/targets.json" --labels "$state/labels.json"
rc=0
wait "$last_pid" || rc=$?
((rc == 0)) || die "backfill failed (exit $rc); see the output above and $state/logs/ingest.log"
forget_last

# Yesterday's morning briefing (docs/briefing.md): what a new user reads first,
# without Grafana or Docker. A failure is reported, the demo runs on.
briefing="(not written: see $state/logs/digest.log)"
mkdir -p "$state/briefing"
# The backfill is acknowledged once on the ingest's disk: its last segment is
# sealed within spool.seal_interval (5 s) and the distinct-count sketches are
# written every spool.sketch_interval (30 s); then wait until the spool has
# drained into InfluxDB (at most 3 minutes).
log "waiting for the ingest to write the backfill's last sums and sketches (35 s)"
sleep 35
for ((i = 0; i < 1800; i++)); do
	curl -fsS "$ingest_url/metrics" 2>/dev/null | grep -Eq '^storepulse_ingest_(pending_segments|spool_bytes) [1-9]' || break
	sleep 0.1
done
if STOREPULSE_DIGEST_INFLUX_URL=$influx_url STOREPULSE_DIGEST_INFLUX_BUCKET=$bucket bin/storepulse-digest \
	--timezone Asia/Shanghai --business "StorePulse demo" --ingest-data-dir "$state/ingest" \
	--format html,markdown,json --out "$state/briefing" 2>"$state/logs/digest.log"; then
	briefing=$(ls "$state"/briefing/briefing-*.html)
	log "yesterday's briefing: $briefing"
else
	log "the briefing failed; see $state/logs/digest.log"
fi

start_bg storepulse-sim-live "$state/logs/sim-live.log" \
	"${sim[@]}" live --days "$live_days" --start "$live_start" --progress=false
live_pid=$last_pid

cat >&2 <<EOF

StorePulse demo is running (state and logs in $state; wiped at the next start).

  InfluxDB 1.8     $influx_url   database $db, bucket "$bucket" (v2 API and Flux on, no auth)
                   e.g. curl -s -H 'Content-Type: application/vnd.flux' -H 'Accept: application/csv' \\
                          --data 'from(bucket:"$bucket") |> range(start:-1h) |> filter(fn:(r)=>r._measurement=="sp_orders" and r._field=="gmv") |> group() |> sum()' \\
                          $influx_url/api/v2/query
  ingest API       $ingest_url   token $token  (also in $state/token; config $config)
                   $ingest_url/metrics, $ingest_url/readyz
  simulator        live feed of $stores stores (pid $live_pid), after $days days of backfill
  briefing         $briefing
                   yesterday's morning briefing (open it in a browser; .md and .json next to it)
  logs             $state/logs/{influxd,ingest,sim-live,digest}.log
                   calendar, targets and incident labels: $state/{campaigns,targets,labels}.json
  stop             Ctrl-C here (or kill -TERM $$): stops the feed, the ingest service, then InfluxDB

Grafana: \`docker compose up\` (README) brings InfluxDB 2.7, Grafana, the plugin, dashboards and alerts up by
itself. To point an existing Grafana (12.4 or later) at this demo instead: build the plugin with \`make plugin\`
(into $root/datasource/dist) and use the provisioning folder $root/provisioning/ (datasource, dashboards,
alert rules). Then:
  ln -s $root/datasource/dist <grafana plugins dir>/storepulse-kpi-datasource
  ln -s $root/dashboards /var/lib/grafana/dashboards/storepulse
  grafana.ini: [plugins] allow_loading_unsigned_plugins = storepulse-kpi-datasource
               [paths]   provisioning = $root/provisioning
  (or GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS and GF_PATHS_PROVISIONING), with the environment
  STOREPULSE_INFLUX_URL=$influx_url STOREPULSE_INFLUX_BUCKET=$bucket STOREPULSE_INFLUX_TOKEN=any
  STOREPULSE_INFLUX_ORG=storepulse STOREPULSE_TIMEZONE=Asia/Shanghai STOREPULSE_CURRENCY=CNY, and restart Grafana.
  The datasource reads InfluxDB at $influx_url, bucket "$bucket", any token.

EOF
[[ -d datasource/dist ]] || log "note: datasource/dist is not built yet: run make plugin"

# Runs until Ctrl-C/SIGTERM (the trap stops everything) or the live horizon.
rc=0
wait "$live_pid" || rc=$?
log "the live feed ended (exit $rc); see $state/logs/sim-live.log"
exit "$rc"
