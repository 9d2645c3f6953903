// Package systemtest runs the real storepulse-ingest binary against a real
// InfluxDB and checks what ends up stored against an independent count of
// the events sent: round trip, SIGKILL crashes, InfluxDB outages, bad input.
package systemtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/ingesttest"
	"github.com/storepulse/storepulse/internal/testclock"
)

const testToken = ingesttest.Token

var binary string // built once by TestMain

func TestMain(m *testing.M) { ingesttest.Main(m, &binary) }

type (
	ingest     = ingesttest.Ingest
	ingestOpts = ingesttest.Options
	response   = ingesttest.Response
)

func startIngest(t testing.TB, db *influxtest.Server, o ingestOpts) *ingest {
	return ingesttest.Start(t, binary, db, o)
}

func fluxTable(t testing.TB, db *influxtest.Server, flux string) []map[string]string {
	return ingesttest.FluxTable(t, db, flux)
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// fluxRange is a Flux range from back before the tests' now to an hour after
// it (never the wall clock's now: package testclock).
func fluxRange(back time.Duration) string {
	now := testclock.Now()
	return fmt.Sprintf("range(start: %s, stop: %s)", now.Add(-back).UTC().Format(time.RFC3339Nano), now.Add(time.Hour).UTC().Format(time.RFC3339Nano))
}
