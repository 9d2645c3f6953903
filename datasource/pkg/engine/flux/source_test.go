package flux

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestFilterValuesAgainstInfluxDB: against a real InfluxDB, a filter of
// 1,000 values with regex metacharacters, slashes and quotes selects exactly
// the stores named, quickly.
func TestFilterValuesAgainstInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	at := testclock.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	stores := []string{"a.b", "axb", "c/d", "e(f)", "g|h", "g", `i\j`, `k"l`, "plain", "plain2"}
	var lines []string
	for i, s := range stores {
		esc := strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `).Replace(s) // a backslash inside a tag value is literal
		lines = append(lines, fmt.Sprintf("sp_orders,store=%s gmv=%d %d", esc, i+1, at.UnixNano()))
	}
	srv.WriteLines(t, lines)
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	src := &Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket}

	want := []string{"a.b", "c/d", "e(f)", "g|h", `i\j`, `k"l`, "plain"}
	filter := append([]string(nil), want...)
	for i := len(filter); i < models.MaxFilterValues; i++ {
		filter = append(filter, fmt.Sprintf("absent-%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	rows, err := src.Sums(ctx, engine.SumSpec{Start: at.Add(-time.Hour), Stop: at.Add(time.Hour),
		Terms: []engine.Term{{Measurement: "sp_orders", Field: "gmv"}}, Filters: map[string][]string{"store": filter}, GroupBy: []string{"store"}})
	require.NoError(t, err)
	took := time.Since(start)
	var got []string
	for _, r := range rows {
		got = append(got, r.Groups[0])
	}
	sort.Strings(got)
	sort.Strings(want)
	require.Equal(t, want, got, "exactly the stores named; axb, g and plain2 are not")
	t.Logf("1,000-value filter: %s", took)
	require.Less(t, took, 2*time.Second, "the or-chain took 5.5 s here")
}
