package engine

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

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestFilterValuesOneRegex: a filter of many values is one anchored regex
// (linear in the values), not an `or` chain (quadratic in InfluxDB), and it
// matches exactly the values given, whatever characters they hold.
func TestFilterValuesOneRegex(t *testing.T) {
	vals := make([]string, 500)
	for i := range vals {
		vals[i] = fmt.Sprintf("s%d", i)
	}
	var b strings.Builder
	filterLines(&b, map[string][]string{"store": vals})
	require.NotContains(t, b.String(), " or ")
	require.Contains(t, b.String(), `r["store"] =~ /^(?:s0|s1|s2|`)
	require.Equal(t, `/^(?:a\.b|c\/d|e\(f\)|g\|h|i\\j|k"l|m\x{a}n)$/`, fluxRegexOneOf([]string{"a.b", "c/d", "e(f)", "g|h", `i\j`, `k"l`, "m\nn"}))
}

// TestFilterValuesCapped: more than models.MaxFilterValues values in one
// filter is a clear query error.
func TestFilterValuesCapped(t *testing.T) {
	vals := make([]string, models.MaxFilterValues+1)
	for i := range vals {
		vals[i] = fmt.Sprintf("s%d", i)
	}
	raw := fmt.Sprintf(`{"kpi":"gmv","filters":{"store":[%q]}}`, strings.Join(vals, `","`))
	raw = strings.ReplaceAll(raw, `\"`, `"`)
	_, err := models.ParseQuery([]byte(raw))
	require.ErrorContains(t, err, fmt.Sprintf(`filter "store" has %d values, at most %d`, len(vals), models.MaxFilterValues))
	_, err = models.ParseQuery([]byte(strings.Replace(raw, `"s0",`, "", 1)))
	require.NoError(t, err)
}

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
	src := &InfluxSource{QueryAPI: func() api.QueryAPI { return client.QueryAPI(srv.Org) }, Bucket: srv.Bucket}

	want := []string{"a.b", "c/d", "e(f)", "g|h", `i\j`, `k"l`, "plain"}
	filter := append([]string(nil), want...)
	for i := len(filter); i < models.MaxFilterValues; i++ {
		filter = append(filter, fmt.Sprintf("absent-%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	rows, err := src.Sums(ctx, SumSpec{Start: at.Add(-time.Hour), Stop: at.Add(time.Hour),
		Terms: []Term{{"sp_orders", "gmv"}}, Filters: map[string][]string{"store": filter}, GroupBy: []string{"store"}})
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
