package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// Total reads exactly the whole days of its range: a month bucket of Run
// reads the whole month (up to the data's end), which is not month to date.
func TestTotal(t *testing.T) {
	// One order of 10 every hour from 2026-11-01 00:00 to 2026-11-04 00:00 Shanghai (72 orders).
	var pts []memPoint
	start := utc("2026-10-31T16:00:00Z")
	for h := time.Duration(0); h < 72*time.Hour; h += time.Hour {
		pts = append(pts, order(start.Add(h).Format(time.RFC3339), "s", "app", "x", 10)...)
	}
	e := newEngine(t, &memSource{points: pts}, "Asia/Shanghai", 10)
	e.Now = func() time.Time { return utc("2026-11-10T00:00:00Z") }
	from, to := start, start.Add(48*time.Hour) // 1 and 2 November

	res, err := e.Total(context.Background(), Request{Query: models.Query{KPI: "orders"}, From: from, To: to})
	require.NoError(t, err)
	require.Len(t, res.Series, 1)
	require.Equal(t, 48.0, *res.Series[0].Values[0])

	res, err = e.Total(context.Background(), Request{Query: models.Query{KPI: "aov"}, From: from, To: to})
	require.NoError(t, err)
	require.InDelta(t, 10.0, *res.Series[0].Values[0], 1e-9)

	month, err := e.Run(context.Background(), Request{Query: models.Query{KPI: "orders", Interval: "month"}, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, 72.0, *month.Series[0].Values[0], "a month bucket is read whole")

	_, err = e.Total(context.Background(), Request{Query: models.Query{KPI: "orders"}, From: from.Add(time.Hour), To: to})
	requirePluginError(t, err, "whole local days")
	_, err = e.Total(context.Background(), Request{Query: models.Query{KPI: "stickiness"}, From: from, To: to})
	requirePluginError(t, err, "stickiness")
	_, err = e.Total(context.Background(), Request{Query: models.Query{KPI: "orders", Compare: "1w"}, From: from, To: to})
	requirePluginError(t, err, "filters and groupBy only")
}
