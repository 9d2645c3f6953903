package plugin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/clock"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/storezone"
	"github.com/storepulse/storepulse/internal/testclock"
)

// zoneContext is a datasource instance with the given timeZone setting ("":
// none).
func zoneContext(id int64, srv *influxtest.Server, tz string) backend.PluginContext {
	js := fmt.Sprintf(`{"url":%q,"version":"1.8","bucket":%q}`, srv.URL, srv.Bucket)
	if tz != "" {
		js = fmt.Sprintf(`{"url":%q,"version":"1.8","bucket":%q,"timeZone":%q}`, srv.URL, srv.Bucket, tz)
	}
	return backend.PluginContext{PluginID: PluginID, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
		ID: id, UID: fmt.Sprintf("zone%d", id), Name: "StorePulse", Updated: time.Unix(id, 0),
		JSONData: []byte(js), DecryptedSecureJSONData: map[string]string{"token": influxtest.Token},
	}}
}

// TestStoreTimeZoneFromIngest: the zone storepulse-ingest records is the
// store's; queries cut days by it whatever the datasource says, and Save &
// test refuses a datasource zone that differs.
func TestStoreTimeZoneFromIngest(t *testing.T) {
	srv := influxtest.Start(t)
	// The plugin's clock is the tests' (STOREPULSE_NOW moves it), but after
	// the fixed 2017 data below: a clock before it would hide that data as
	// the future.
	now := testclock.Now().UTC().Truncate(time.Minute)
	if dataEnd := time.Date(2017, 10, 17, 0, 0, 0, 0, time.UTC); now.Before(dataEnd) {
		now = dataEnd.AddDate(1, 0, 0)
	}
	client := servePluginWithClock(t, clock.Shifted(now))
	ctx := context.Background()
	meta := func(ing, zone string) string {
		l, err := storezone.Line(ing, zone, storezone.RecordTime())
		require.NoError(t, err)
		return l
	}
	// Data now (for health) and around São Paulo's 2017-10-15, whose midnight
	// did not exist: 23:30 local on the 14th and 01:30 on the 15th.
	writeLP(t, srv,
		fmt.Sprintf("sp_ingest,ingester=i1,store=s1,type=order events=1 %d", now.Add(-time.Hour).UnixNano()),
		"sp_orders,channel=app,ingester=i1,store=s1 gmv=10,orders=1 1508034600000000001", // 2017-10-15T02:30Z
		"sp_orders,channel=app,ingester=i1,store=s1 gmv=20,orders=1 1508041800000000001", // 2017-10-15T04:30Z
		meta("i1", "America/Sao_Paulo"),
	)
	health := func(id int64, tz string) *backend.CheckHealthResult {
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: zoneContext(id, srv, tz)})
		require.NoError(t, err)
		return res
	}

	t.Run("no datasource zone: the recorded one", func(t *testing.T) {
		res := health(1, "")
		require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
		require.Contains(t, res.Message, "store time zone America/Sao_Paulo (recorded by storepulse-ingest)")
	})
	t.Run("the same zone", func(t *testing.T) {
		res := health(2, "America/Sao_Paulo")
		require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
	})
	t.Run("a different zone is refused", func(t *testing.T) {
		res := health(3, "Asia/Shanghai")
		require.Equal(t, backend.HealthStatusError, res.Status)
		require.Contains(t, res.Message, "store time zone Asia/Shanghai differs from America/Sao_Paulo")
		require.Contains(t, res.Message, "queries use America/Sao_Paulo")
	})
	t.Run("queries cut days by the recorded zone, not the setting", func(t *testing.T) {
		from, to := time.Date(2017, 10, 14, 3, 0, 0, 0, time.UTC), time.Date(2017, 10, 16, 2, 0, 0, 0, time.UTC)
		resp, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: zoneContext(3, srv, "Asia/Shanghai"),
			Queries: []backend.DataQuery{{RefID: "A", TimeRange: backend.TimeRange{From: from, To: to}, MaxDataPoints: 10,
				JSON: []byte(`{"kpi":"gmv","interval":"day"}`)}}})
		require.NoError(t, err)
		a := resp.Responses["A"]
		require.NoError(t, a.Error)
		require.Len(t, a.Frames, 1)
		f := a.Frames[0]
		var got []string
		for i := range f.Fields[0].Len() {
			ts := f.Fields[0].At(i).(time.Time)
			v, _ := f.Fields[1].ConcreteAt(i)
			got = append(got, fmt.Sprintf("%s=%v", ts.UTC().Format(time.RFC3339), v))
		}
		require.Equal(t, []string{"2017-10-14T03:00:00Z=10", "2017-10-15T03:00:00Z=20"}, got)
	})
	t.Run("the day without midnight sums the same from overlapping ranges", func(t *testing.T) {
		day15 := time.Date(2017, 10, 15, 3, 0, 0, 0, time.UTC)
		for i, r := range [][2]time.Time{
			{time.Date(2017, 10, 1, 3, 0, 0, 0, time.UTC), time.Date(2017, 12, 1, 2, 0, 0, 0, time.UTC)},
			{time.Date(2017, 10, 13, 12, 0, 0, 0, time.UTC), time.Date(2017, 10, 16, 2, 0, 0, 0, time.UTC)},
			{time.Date(2017, 10, 15, 3, 0, 0, 0, time.UTC), time.Date(2017, 10, 17, 0, 0, 0, 0, time.UTC)},
			{time.Date(2017, 10, 15, 12, 0, 0, 0, time.UTC), time.Date(2017, 10, 15, 13, 0, 0, 0, time.UTC)},
		} {
			resp, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: zoneContext(1, srv, ""),
				Queries: []backend.DataQuery{{RefID: "A", TimeRange: backend.TimeRange{From: r[0], To: r[1]}, MaxDataPoints: 100,
					JSON: []byte(`{"kpi":"gmv","interval":"day"}`)}}})
			require.NoError(t, err)
			a := resp.Responses["A"]
			require.NoError(t, a.Error)
			require.Len(t, a.Frames, 1)
			found := false
			for j := range a.Frames[0].Fields[0].Len() {
				if a.Frames[0].Fields[0].At(j).(time.Time).Equal(day15) {
					v, _ := a.Frames[0].Fields[1].ConcreteAt(j)
					require.Equal(t, 20.0, v, "range %d", i)
					found = true
				}
			}
			require.True(t, found, "range %d has the bucket of 2017-10-15", i)
		}
	})
	t.Run("ingesters that disagree are reported", func(t *testing.T) {
		writeLP(t, srv, meta("i2", "Europe/Berlin"))
		res := health(4, "")
		require.Equal(t, backend.HealthStatusError, res.Status)
		require.Contains(t, res.Message, "the ingesters record different store time zones")
		require.Contains(t, res.Message, "i2: Europe/Berlin")
	})
}
