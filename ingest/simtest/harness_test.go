// Package simtest runs the store simulator end to end: a backfill through the
// real storepulse-ingest binary into a real InfluxDB, checked day by day
// against totals computed independently from the simulator's file output.
package simtest

import (
	"testing"

	"github.com/storepulse/storepulse/internal/ingesttest"
)

const testToken = ingesttest.Token

var binary string // built once by TestMain

func TestMain(m *testing.M) { ingesttest.Main(m, &binary) }
