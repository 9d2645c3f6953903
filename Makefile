# StorePulse build, test and benchmark entry points. `make test` is the one
# test command (CI runs it through .ci/run); it installs what it needs.

SHELL := /usr/bin/env bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
INFLUXD_VERSION := v1.8.10
GOLANGCI_VERSION := v2.15.0
export STOREPULSE_INFLUXD ?= $(TOOLS)/influxd

.PHONY: all build tools test vet lint gotest chromium fuzz bench-ingest bench-rollup bench-history bench-history-lines bench-query bench-query-wall bench-query-history env compose-check quickstart-check clean

all: build

build:
	$(GO) build -o bin/ ./ingest/cmd/... ./datasource/cmd/... ./digest/cmd/...

## tools: a real InfluxDB 1.8 for the integration tests and the pinned linter,
## built once into .tools/bin (git-ignored, cached between runs).
tools: $(TOOLS)/influxd $(TOOLS)/golangci-lint

$(TOOLS)/influxd:
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/influxdata/influxdb/cmd/influxd@$(INFLUXD_VERSION)

$(TOOLS)/golangci-lint:
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

vet:
	$(GO) vet ./...

lint: $(TOOLS)/golangci-lint
	$(TOOLS)/golangci-lint run ./...

# Integration tests start their own InfluxDB from .tools/bin; with CI set they
# fail (never skip) when it cannot start. Fuzz targets run their seed corpora.
gotest: $(TOOLS)/influxd chromium
	$(GO) test -race -timeout 30m ./...

## chromium: Debian's headless Chromium, which the e-mail layout test
## (digest/cmd/storepulse-digest, TestHTMLInChromium) renders in; installed
## from apt when missing (a fresh machine has none).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: tools vet lint gotest compose-check quickstart-check frontend-test plugin-check

## fuzz: runs every fuzz target (go test -fuzz) for FUZZTIME each (default
## 3m), one after the other. A failing input is written by go test into the
## package's testdata/fuzz/<Target>/ (the corpus `make test` replays): commit it
## with the fix. All targets run even if one fails; the target fails if any did.
## FUZZFLAGS adds flags, e.g. FUZZFLAGS=-parallel=2 on a shared machine.
FUZZTIME ?= 3m
FUZZFLAGS ?=
FUZZPKGS ?= $(sort $(patsubst %/,./%,$(dir $(shell grep -rl --include='*_test.go' '^func Fuzz' ingest datasource internal))))
fuzz:
	@fail=0; for pkg in $(FUZZPKGS); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg || fail=1; \
	  done; \
	done; \
	if [ $$fail -ne 0 ]; then echo "fuzz: failures found; their inputs are in testdata/fuzz/ (commit them with the fix)"; fi; \
	exit $$fail

## test-dates: the whole Go suite again as if run on other days. Tests take
## their "now" from package internal/testclock (a fixed default; never the
## wall clock's date), which STOREPULSE_NOW moves; the services under test get
## the same clock. The dates: DST changes (Europe, the US, São Paulo's midnight
## jump), 29 February, New Year's Eve running into 1 January, a Monday 00:30,
## Double Eleven, and today. TEST_DATES replaces the list; GOTEST_DATES_FLAGS
## adds go test flags (e.g. -run or a package list via TEST_DATES_PKGS).
TEST_DATES ?= 2026-03-29T00:30:00Z 2026-11-01T05:50:00Z 2017-10-15T02:30:00Z \
	2024-02-29T10:00:00+08:00 2025-12-31T23:50:00+08:00 2026-11-30T00:30:00+08:00 \
	2026-11-11T20:00:00+08:00 today
TEST_DATES_PKGS ?= ./...
.PHONY: test-dates
test-dates: $(TOOLS)/influxd chromium
	@set -e; for d in $(TEST_DATES); do \
	  if [ "$$d" = today ]; then d=$$(date -u +%Y-%m-%dT%H:%M:%SZ); fi; \
	  echo "== STOREPULSE_NOW=$$d"; \
	  STOREPULSE_NOW=$$d $(GO) test -count=1 -timeout 30m $(GOTEST_DATES_FLAGS) $(TEST_DATES_PKGS) \
	    || { echo "FAILED with STOREPULSE_NOW=$$d"; exit 1; }; \
	done; echo "test-dates: the suite passed on every date"

## quickstart-check: scripts/quickstart-test.sh follows README.md's "Quick start
## (from source)" on a fresh clone of HEAD (private ports and directories) and
## checks its answers and that the event posted reaches InfluxDB.
quickstart-check: tools
	scripts/quickstart-test.sh

## test-target: the storage suite (internal/storagesuite: the ingest's writes
## through its InfluxDB client and its readiness check, the sketch reload, the
## calendar store, the datasource's InfluxQL reads and its engine, checked
## against the raw events; dead letters with InfluxDB's reason) against the
## InfluxDB named by STOREPULSE_TARGET_URL, STOREPULSE_TARGET_TOKEN,
## STOREPULSE_TARGET_DATABASE, STOREPULSE_TARGET_VERSION (1.8, 2.x or 3.x) and,
## for 2.x, STOREPULSE_TARGET_ORG. Opt-in; an unreachable target fails. `make
## test` runs the same test against a local InfluxDB 1.8. docs/influxdb3.md.
.PHONY: test-target
test-target:
	@test -n "$$STOREPULSE_TARGET_URL" || { echo "test-target: set STOREPULSE_TARGET_URL, _TOKEN, _DATABASE and _VERSION (see docs/influxdb3.md)" >&2; exit 2; }
	$(GO) test -count=1 -timeout 10m -run '^TestStorageSuite$$' -v ./internal/storagesuite/

## compose-check: Debian's docker-compose validates both compose variants (no
## Docker engine needed) with the example environment: docker-compose.yml
## (InfluxDB 2.7) and docker-compose.yml + docker-compose.influxdb3.yml
## (InfluxDB 3 Core).
compose-check:
	@command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	@tmp=$$(mktemp); cp .env.example $$tmp; echo STOREPULSE_TOKEN_SHA256=0000 >> $$tmp; \
	docker-compose --env-file $$tmp config -q && echo "docker-compose.yml (InfluxDB 2.7): valid" && \
	docker-compose --env-file $$tmp -f docker-compose.yml -f docker-compose.influxdb3.yml config -q && \
	echo "docker-compose.yml + docker-compose.influxdb3.yml (InfluxDB 3 Core): valid"; rc=$$?; rm -f $$tmp; exit $$rc

## bench-rollup: the roll-up's CPU alone (decode, sums, sketches) per event,
## on bench-ingest's two cases; no InfluxDB.
bench-rollup:
	$(GO) test ./ingest/rollup -run '^$$' -bench RollUp -benchtime 5x

## bench-ingest: events/s through /v1/events (durable) vs raw client writes vs
## line protocol through /api/v2/write; results go to docs/benchmarks.md.
## The events are the same on any day (-end fixes the simulated window) and
## are moved to end now: "live" is the first ten minutes of a Tuesday's 20:00
## peak hour, "backfill" two and a half sparse days.
bench-ingest: tools build
	$(GO) run ./ingest/cmd/storepulse-bench-ingest -events 500000 -span 1h -scale 250
	$(GO) run ./ingest/cmd/storepulse-bench-ingest -events 500000 -span 72h -scale 1

## bench-history-lines: stored points of a history once its minutes have
## expired (hourly and daily series, store totals, sketches), per event and
## per store-day, for stores of growing size: BENCH_LINES_STORES simulated
## stores over BENCH_LINES_DAYS days at each traffic scale of
## BENCH_LINES_SCALES (scale 1 is about 1,800 events per store and day;
## 0.05 is bench-query-history's small shops),
## rolled up and consolidated into InfluxDB 1.8. About 2 minutes.
BENCH_LINES_STORES ?= 2
BENCH_LINES_DAYS ?= 7
BENCH_LINES_SCALES ?= 0.05 1 5 25 50 75 125 250
bench-history-lines: tools
	@for s in $(BENCH_LINES_SCALES); do \
	  STOREPULSE_BENCH_STORES=$(BENCH_LINES_STORES) STOREPULSE_BENCH_DAYS=$(BENCH_LINES_DAYS) STOREPULSE_BENCH_SCALE=$$s \
	  STOREPULSE_INFLUXD=$(TOOLS)/influxd $(GO) test ./ingest/consolidate -run '^$$' -bench HistoryLines -benchtime 1x -timeout 60m \
	  || exit 1; \
	done

## bench-history: a history import (issue 10): BENCH_HISTORY_STORES stores'
## order exports over BENCH_HISTORY_DAYS days ending yesterday (default 100 x
## 730, two years; about 20 orders per store and day) posted store by store
## to /v1/import/csv?history=true with an admin token; prints acknowledged
## rows/s and the time until all of it is visible through InfluxQL (sums and
## daily sketches checked against the generated rows). On the 2-core
## development machine the full size took about 6 minutes with
## -segment-bytes 2097152 (docs/benchmarks.md, which also has 10% runs:
## BENCH_HISTORY_STORES=10; BENCH_HISTORY_DAYS=73).
## BENCH_HISTORY_FLAGS adds flags, e.g. -segment-bytes 2097152.
BENCH_HISTORY_STORES ?= 100
BENCH_HISTORY_DAYS ?= 730
BENCH_HISTORY_FLAGS ?=
bench-history: tools build
	$(GO) run ./ingest/cmd/storepulse-bench-ingest -history -stores $(BENCH_HISTORY_STORES) -days $(BENCH_HISTORY_DAYS) -clients 4 $(BENCH_HISTORY_FLAGS)

## bench-query: the director's wall screen (dashboards/storepulse-wall.json, as
## Grafana requests it) through the plugin's QueryData (its own process, cold
## and cached) vs the same numbers as hand-written Flux straight to InfluxDB,
## over 50 simulated stores x 90 days; results go to docs/benchmarks.md.
## BENCH_QUERY_FLAGS adds flags, e.g. -data DIR to keep the loaded data for
## later runs, or -stores 5 -days 14 -iterations 5 for a quick look.
##
## Then the history benchmark (issue 12): 100 stores x 400 days (and the wall
## screen again at 90 days) stored as minutes and as consolidated hourly and
## local-day series, four screens (wall, a year by month with contribution by
## store, Double Eleven against last year's, a 13-month top 10) side by side:
## today's engine (Flux over minutes), raw InfluxQL, the new path (which
## reads its minutes from a database of the last 30 days only, as an ingest
## with influx.fine_bucket and a 720h fine_retention keeps them; -fine-days).
## About an hour here, most of it loading; BENCH_HISTORY_QUERY_FLAGS adds
## flags, e.g. -data DIR, -scale 0.05, -iterations 1, -index tsi1. `make bench-query-wall` and
## `make bench-query-history` run one of the two.
BENCH_HISTORY_QUERY_FLAGS ?=
bench-query: bench-query-wall bench-query-history

bench-query-wall: tools build
	$(GO) build -o bin/storepulse-kpi-datasource ./datasource/pkg
	bin/storepulse-bench-query -plugin bin/storepulse-kpi-datasource -stores 50 -days 90 -iterations 20 $(BENCH_QUERY_FLAGS)

bench-query-history: tools build
	$(GO) build -o bin/storepulse-kpi-datasource ./datasource/pkg
	bin/storepulse-bench-query -history -plugin bin/storepulse-kpi-datasource -stores 100 -days 400 -short-days 90 -scale 0.05 -iterations 3 $(BENCH_HISTORY_QUERY_FLAGS)

## env: a .env for docker compose from .env.example with fresh random
## secrets and the ingest token's SHA-256 (scripts/make-env.sh: portable,
## all or nothing).
env:
	@scripts/make-env.sh

## demo: everything running locally without Docker: InfluxDB 1.8, the ingest
## service, a backfill of simulated stores and their live feed (state in
## .demo/). DEMO_DAYS, DEMO_STORES, DEMO_SCALE make it smaller; see the script.
.PHONY: demo
demo:
	@scripts/demo.sh

## plugin: the Grafana plugin storepulse-kpi-datasource in datasource/dist/
## (module.js and its source map, plugin.json, README, CHANGELOG, LICENSE, logo,
## screenshots, the Go backend for linux/darwin amd64+arm64 and windows/amd64 and
## its go_plugin_build_manifest, built by Magefile.go with the plugin SDK's build
## tooling), dist/<id>-<version>.zip and the plugin's source in the layout the
## plugin validator reads, dist/<id>-<version>-source(.zip) (scripts/build-plugin.sh).
## frontend-test: typecheck, eslint and jest of the plugin's TypeScript, jest twice:
## React 18 with the @grafana/* packages of Grafana 12.4 (package.json), then React
## 19 with those of Grafana 13.2 (datasource/react19/, Grafana >= 13.2's runtime).
## plugin-check: scripts/checkplugin: the package is complete, its binaries match
## their targets, and the plugin validator's offline rules hold (see its doc comment).
.PHONY: plugin frontend-test plugin-check
DS_MODULES := datasource/node_modules/.package-lock.json
DS_R19_MODULES := datasource/react19/node_modules/.package-lock.json
PLUGIN_VERSION = $$(node -p "require('./datasource/package.json').version")

$(DS_MODULES): datasource/package-lock.json
	cd datasource && npm ci --no-audit --no-fund
	@touch $@

$(DS_R19_MODULES): datasource/react19/package-lock.json
	cd datasource/react19 && npm ci --no-audit --no-fund
	@touch $@

plugin: $(DS_MODULES)
	GO=$(GO) scripts/build-plugin.sh

frontend-test: $(DS_MODULES) $(DS_R19_MODULES)
	cd datasource && npm run -s typecheck && npm run -s lint && npm run -s test:ci && npm run -s test:react19

## plugin-screenshots: plugin.json's catalog screenshots, the real editors
## rendered in jsdom and photographed by headless Chromium (scripts/screenshots.sh).
.PHONY: plugin-screenshots
plugin-screenshots: $(DS_MODULES)
	scripts/screenshots.sh

plugin-check: plugin
	$(GO) run ./scripts/checkplugin -dist datasource/dist \
	  -zip dist/storepulse-kpi-datasource-$(PLUGIN_VERSION).zip \
	  -source dist/storepulse-kpi-datasource-$(PLUGIN_VERSION)-source \
	  -shared datasource/.config/webpack/grafana-shared-modules.json

clean:
	rm -rf bin dist
