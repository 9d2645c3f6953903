// Package storagesuite is StorePulse's storage suite: one test (in
// suite_test.go) that runs the whole storage path against one InfluxDB, with
// every number checked against an independent computation from the raw
// events:
//
//   - the ingest's InfluxDB client (ingest/influx) writes rolled-up points
//     and sketches and reports readiness;
//   - a restarted rollup reloads the stored sketches with InfluxQL
//     (ingest/rollup) and merges new events into them;
//   - the calendar store (ingest/calendarstore) writes and reads campaigns
//     and targets;
//   - the datasource's InfluxQL source (datasource/pkg/engine/influxql) and
//     its engine read sums, sketches, targets and campaigns back;
//   - a line whose field type conflicts with the stored one is refused by
//     InfluxDB and set aside in the dead-letter file with InfluxDB's reason.
//
// `make test` runs it against a fresh local InfluxDB 1.8 (internal/influxtest).
// `make test-target` runs the same test against any InfluxDB named by
// STOREPULSE_TARGET_URL, _TOKEN, _DATABASE, _VERSION (and _ORG for 2.x), so a
// user can point it at InfluxDB 2.7 or 3.x (see docs/influxdb3.md). A named
// target that is unreachable or incompletely named fails the test; it never
// skips. Every run writes under its own store and ingester names, so runs
// against a shared database do not see each other's points; nothing is
// deleted afterwards.
package storagesuite
