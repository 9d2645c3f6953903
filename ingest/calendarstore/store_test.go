package calendarstore

import (
	"context"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// testInflux writes to and queries (Flux) a test InfluxDB.
type testInflux struct {
	srv *influxtest.Server
	q   api.QueryAPI
}

func (t *testInflux) Write(ctx context.Context, lines []string) error { return t.srv.Write(ctx, lines) }
func (t *testInflux) Query(ctx context.Context, flux string) (*api.QueryTableResult, error) {
	return t.q.Query(ctx, flux)
}

// TestInfluxQLReadsAgreeWithFlux: the calendar read with InfluxQL equals the
// calendar read with Flux on a real InfluxDB 1.8 (moved campaigns leave
// tombstones, deleted targets and campaigns are skipped, target filters),
// whichever of the two wrote it.
func TestInfluxQLReadsAgreeWithFlux(t *testing.T) {
	srv := influxtest.Start(t)
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	ctx := context.Background()
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	db := &testInflux{srv: srv, q: client.QueryAPI(srv.Org)}
	dbName, rp, err := influxql.SplitBucket(srv.Bucket)
	require.NoError(t, err)
	viaFlux := New(db, srv.Bucket, sh)
	viaQL := NewInfluxQL(db, &influxql.Client{URL: srv.URL, Token: srv.Token, Database: dbName, RetentionPolicy: rp}, srv.Bucket, sh)

	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, sh) }
	campaign := func(id string, start, end int) calendar.Campaign {
		return calendar.Campaign{ID: id, Name: "Campaign " + id, Kind: "double11", Stores: []string{"tmall"},
			Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: day(start), End: day(end)}}}
	}
	same := func(t *testing.T) {
		t.Helper()
		want, err := viaFlux.Campaigns(ctx)
		require.NoError(t, err)
		got, err := viaQL.Campaigns(ctx)
		require.NoError(t, err)
		require.Equal(t, want, got)
		for _, f := range []TargetFilter{{}, {KPI: "gmv"}, {Store: "jd", Period: "day"}, {From: day(11), To: day(12)}, {KPI: "x' OR '1'='1"}} {
			want, err := viaFlux.Targets(ctx, f)
			require.NoError(t, err)
			got, err := viaQL.Targets(ctx, f)
			require.NoError(t, err)
			require.Equal(t, want, got, "%+v", f)
		}
	}

	require.NoError(t, viaFlux.PutCampaigns(ctx, []calendar.Campaign{campaign("d11", 11, 12), campaign("w1", 3, 5), campaign("gone", 1, 2)}))
	_, err = viaFlux.DeleteCampaign(ctx, "gone")
	require.NoError(t, err)
	targets := []calendar.Target{
		{KPI: "gmv", Store: "tmall", Period: "day", Start: "2026-11-11", Value: 5e6},
		{KPI: "gmv", Store: "jd", Period: "day", Start: "2026-11-11", Value: 2.5},
		{KPI: "orders", Store: "all", Period: "month", Start: "2026-11-01", Value: 1000},
		{KPI: "gmv", Store: "jd", Period: "day", Start: "2026-11-12", Value: 3},
	}
	for i := range targets {
		require.NoError(t, targets[i].Validate(sh))
	}
	require.NoError(t, viaFlux.PutTargets(ctx, targets))
	require.NoError(t, viaFlux.DeleteTarget(ctx, targets[3]))
	same(t)
	got, err := viaQL.Campaigns(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	ts, err := viaQL.Targets(ctx, TargetFilter{Store: "jd"})
	require.NoError(t, err)
	require.Equal(t, []calendar.Target{targets[1]}, ts)

	// Moving a campaign through the InfluxQL store tombstones the old start.
	require.NoError(t, viaQL.PutCampaigns(ctx, []calendar.Campaign{campaign("w1", 4, 6)}))
	same(t)
	got, err = viaQL.Campaigns(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, day(4), got[0].Start().In(sh))

	_, err = NewInfluxQL(db, &influxql.Client{URL: srv.URL, Database: "nodb"}, "nodb", sh).Campaigns(ctx)
	require.ErrorContains(t, err, "list campaigns: InfluxDB: database not found: nodb")
}
