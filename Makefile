# StorePulse build, test and benchmark entry points. `make test` is the one
# test command (CI runs it through .ci/run); it installs what it needs.

SHELL := /usr/bin/env bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
INFLUXD_VERSION := v1.8.10
GOLANGCI_VERSION := v2.15.0
export STOREPULSE_INFLUXD ?= $(TOOLS)/influxd

.PHONY: all build tools test vet lint gotest bench-ingest clean

all: build

build:
	$(GO) build -o bin/ ./ingest/cmd/...

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
gotest: $(TOOLS)/influxd
	$(GO) test -race -timeout 30m ./...

test: tools vet lint gotest

## bench-ingest: events/s through /v1/events (durable) vs raw client writes vs
## line protocol through /api/v2/write; results go to docs/benchmarks.md.
bench-ingest: tools build
	$(GO) run ./ingest/cmd/storepulse-bench-ingest

clean:
	rm -rf bin dist
