package systemtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

func ndjson(t testing.TB, events []ev) []byte {
	var b bytes.Buffer
	for _, e := range events {
		b.Write(mustJSON(t, e))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestRoundTrip sends a known set of events in every accepted form (JSON
// array, NDJSON, gzip) including retried duplicates, and checks that InfluxDB
// holds exactly the independent count of the distinct events.
func TestRoundTrip(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{})
	events := genEvents(1, "rt", 6000, testclock.Now())

	for i := 0; i < len(events); i += 1000 {
		chunk := events[i:min(i+1000, len(events))]
		var resp response
		var err error
		switch (i / 1000) % 3 {
		case 0:
			resp, err = in.Do("POST", "/v1/events", "application/json", mustJSON(t, chunk), nil)
		case 1:
			resp, err = in.Do("POST", "/v1/events", "application/x-ndjson", ndjson(t, chunk), nil)
		default:
			resp, err = in.Do("POST", "/v1/events", "application/x-ndjson", gz(t, ndjson(t, chunk)), map[string]string{"Content-Encoding": "gzip"})
		}
		require.NoError(t, err)
		require.Equal(t, 202, resp.Status, resp.Body)
		var got struct{ Accepted, Duplicates int }
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
		require.Equal(t, len(chunk), got.Accepted)
		require.Zero(t, got.Duplicates)
	}
	// A client retrying a batch it already sent: acknowledged, not counted.
	resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[1500:2500]), nil)
	require.NoError(t, err)
	require.Equal(t, 202, resp.Status, resp.Body)
	require.JSONEq(t, `{"accepted":0,"duplicates":1000}`, resp.Body)

	in.WaitDrained(60 * time.Second)
	want := expectedSums(events)
	requireSums(t, want, storedSums(t, db))

	// Distinct visitors: the merge of every stored sketch, hourly or daily,
	// matches the true distinct count within the sketch's error.
	trueVisitors := expectedDistinct(events, "session", "visitor")
	for _, window := range []string{"1h", "1d"} {
		est := storedDistinct(t, db, "visitor", window)
		for store, n := range trueVisitors {
			require.InDelta(t, float64(n), float64(est[store]), math.Max(2, 0.02*float64(n)), "store %s window %s", store, window)
		}
	}
	requireStoreSketches(t, db, "visitor")

	// A restart re-reads nothing twice: the totals stay exact.
	in.Stop()
	in.Start()
	resp, err = in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[:100]), nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"accepted":0,"duplicates":100}`, resp.Body, "ids persist across a restart")
	in.WaitDrained(60 * time.Second)
	requireSums(t, want, storedSums(t, db))

	// Late events after the restart (into the same windows, and days back)
	// add to what is stored instead of overwriting it.
	late := genEvents(2, "late", 2000, testclock.Now())
	old := genEvents(3, "old", 500, testclock.Now().Add(-3*24*time.Hour))
	resp, err = in.Do("POST", "/v1/events", "application/json", mustJSON(t, append(late, old...)), nil)
	require.NoError(t, err)
	require.Equal(t, 202, resp.Status, resp.Body)
	in.WaitDrained(60 * time.Second)
	all := append(append(append([]ev{}, events...), late...), old...)
	requireSums(t, expectedSums(all), storedSums(t, db))
}

// TestTwoInstances runs two ingest instances against one InfluxDB, both
// writing the same stores and minutes: neither overwrites the other.
func TestTwoInstances(t *testing.T) {
	db := influxtest.Start(t)
	a := startIngest(t, db, ingestOpts{Ingester: "ingest-a"})
	b := startIngest(t, db, ingestOpts{Ingester: "ingest-b"})
	now := testclock.Now()
	evA := genEvents(11, "a", 3000, now)
	evB := genEvents(11, "b", 3000, now) // same times, stores and values; other ids
	for _, x := range []struct {
		in *ingest
		ev []ev
	}{{a, evA}, {b, evB}} {
		resp, err := x.in.Do("POST", "/v1/events", "application/json", mustJSON(t, x.ev), nil)
		require.NoError(t, err)
		require.Equal(t, 202, resp.Status, resp.Body)
	}
	a.WaitDrained(60 * time.Second)
	b.WaitDrained(60 * time.Second)
	requireSums(t, expectedSums(append(append([]ev{}, evA...), evB...)), storedSums(t, db))
	rows := fluxTable(t, db, fmt.Sprintf(`from(bucket: %q) |> `+fluxRange(24*time.Hour)+`
  |> filter(fn: (r) => r._measurement == "sp_ingest") |> keep(columns: ["ingester"]) |> distinct(column: "ingester")`, db.Bucket))
	var ingesters []string
	for _, r := range rows {
		ingesters = append(ingesters, r["_value"])
	}
	require.ElementsMatch(t, []string{"ingest-a", "ingest-b"}, ingesters)
}
