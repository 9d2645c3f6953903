package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

func fp(v float64) *float64 { return &v }

func TestContribution(t *testing.T) {
	// Last week (13 Nov) and this week (20 Nov), Shanghai.
	pts := []memPoint{
		point("2026-11-13T02:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 1000),
		point("2026-11-13T02:00:00Z", schema.MeasOrders, schema.FieldOrders, "tmall", 10),
		point("2026-11-13T02:00:00Z", schema.MeasOrders, schema.FieldGMV, "jd", 500),
		point("2026-11-13T02:00:00Z", schema.MeasOrders, schema.FieldOrders, "jd", 10),
		point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 600),
		point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldOrders, "tmall", 5),
		point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldGMV, "jd", 1200),
		point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldOrders, "jd", 20),
		point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldGMV, "pdd", 200),
		point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldOrders, "pdd", 5),
	}
	from, to := utc("2026-11-19T16:00:00Z"), utc("2026-11-20T16:00:00Z")
	type row struct {
		value                           string
		cur, prev, contrib, share, rate *float64
	}
	tests := []struct {
		name              string
		kpi               string
		total, prev, diff *float64
		rows              []row
	}{
		// GMV 1500 -> 2000: jd +700, tmall -400, pdd +200.
		{"sum splits additively", "gmv", fp(2000), fp(1500), fp(500), []row{
			{"jd", fp(1200), fp(500), fp(700), fp(1.4), nil},
			{"tmall", fp(600), fp(1000), fp(-400), fp(-0.8), nil},
			{"pdd", fp(200), nil, fp(200), fp(0.4), nil},
		}},
		// AOV 1500/20 = 75 -> 2000/30 = 66.67; jd: 1200/30 - 500/20 = 15, tmall: 20 - 50 = -30, pdd: 6.67.
		{"ratio: N1_g/D1 - N0_g/D0", "aov", fp(2000.0 / 30), fp(75), fp(2000.0/30 - 75), []row{
			{"tmall", fp(120), fp(100), fp(-30), fp(-30 / (2000.0/30 - 75)), fp((0.5 + 1.0/6) / 2 * 20)},
			{"jd", fp(60), fp(50), fp(15), fp(15 / (2000.0/30 - 75)), fp((0.5 + 2.0/3) / 2 * 10)},
			{"pdd", fp(40), nil, fp(200.0 / 30), fp(200.0 / 30 / (2000.0/30 - 75)), fp(0)},
		}},
	}
	e := newEngine(t, &memSource{points: pts}, "Asia/Shanghai", 10)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Contribution(context.Background(), Request{Query: models.Query{KPI: tt.kpi, Compare: "1w",
				Contribution: &models.Contribution{Dimension: "store"}}, From: from, To: to})
			require.NoError(t, err)
			require.InDelta(t, *tt.total, *res.Current, 1e-9)
			require.InDelta(t, *tt.prev, *res.Previous, 1e-9)
			require.InDelta(t, *tt.diff, *res.Change, 1e-9)
			require.Len(t, res.Rows, len(tt.rows))
			sum, sumShare := 0.0, 0.0
			for i, w := range tt.rows {
				r := res.Rows[i]
				require.Equal(t, w.value, r.Value)
				require.InDelta(t, *w.cur, *r.Current, 1e-9)
				if w.prev == nil && tt.kpi == "aov" {
					require.Nil(t, r.Previous)
				} else if w.prev != nil {
					require.InDelta(t, *w.prev, *r.Previous, 1e-9)
				}
				require.InDelta(t, *w.contrib, *r.Contribution, 1e-9)
				require.InDelta(t, *w.share, *r.Share, 1e-9)
				if w.rate != nil {
					require.InDelta(t, *w.rate, *r.Rate, 1e-9)
					require.InDelta(t, *r.Contribution, *r.Rate+*r.Mix, 1e-9, "rate + mix = contribution")
				}
				sum += *r.Contribution
				sumShare += *r.Share
			}
			require.InDelta(t, *res.Change, sum, 1e-9, "contributions add up to the change")
			require.InDelta(t, 1, sumShare, 1e-9)
		})
	}

	for _, tt := range []struct {
		name string
		q    models.Query
		msg  string
	}{
		{"distinct", models.Query{KPI: "buyers", Compare: "1d", Contribution: &models.Contribution{Dimension: "store"}}, "distinct counts of buyers"},
		{"dimension the KPI lacks", models.Query{KPI: "sessions", Compare: "1d", Contribution: &models.Contribution{Dimension: "campaign"}}, "cannot be split by \"campaign\""},
		{"groupBy", models.Query{KPI: "gmv", Compare: "1d", GroupBy: []string{"store"}, Contribution: &models.Contribution{Dimension: "store"}}, "leave groupBy empty"},
		{"too many values", models.Query{KPI: "gmv", Compare: "1w", Contribution: &models.Contribution{Dimension: "store"}}, "3 series, more than the limit of 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newEngine(t, &memSource{points: pts}, "Asia/Shanghai", 2).Contribution(context.Background(), Request{Query: tt.q, From: from, To: to})
			requirePluginError(t, err, tt.msg)
		})
	}
}

func TestFunnel(t *testing.T) {
	at := "2026-11-20T02:00:00Z"
	pts := []memPoint{
		point(at, schema.MeasTraffic, schema.FieldSessions, "tmall", 100),
		point(at, schema.MeasTraffic, schema.FieldCartSessions, "tmall", 20),
		point(at, schema.MeasOrders, schema.FieldOrders, "tmall", 10),
		point(at, schema.MeasPayments, schema.FieldPaidOrders, "tmall", 9), // 9 payment events ...
		point(at, schema.MeasTraffic, schema.FieldSessions, "jd", 50),
		point(at, schema.MeasPayments, schema.FieldPaidOrders, "jd", 1),                     // paid for an earlier order
		point("2026-11-21T02:00:00Z", schema.MeasTraffic, schema.FieldSessions, "jd", 1000), // outside the range
	}
	day := utc("2026-11-19T16:00:00Z") // the Shanghai day's daily sketches
	sks := []memSketch{
		// ... for 8 orders: order 8 was paid in two parts (voucher plus card).
		{t: day, kind: schema.KindPaidOrder, window: schema.WindowDay, tags: map[string]string{"store": "tmall", "channel": "app"}, ids: []int{1, 2, 3, 4, 5, 6, 7, 8, 8}},
		{t: day, kind: schema.KindPaidOrder, window: schema.WindowDay, tags: map[string]string{"store": "jd", "channel": "app"}, ids: []int{100}},
		{t: day.Add(24 * time.Hour), kind: schema.KindPaidOrder, window: schema.WindowDay, tags: map[string]string{"store": "jd", "channel": "app"}, ids: ids(200, 300)}, // outside
	}
	e := newEngine(t, &memSource{points: pts, sketches: sks}, "Asia/Shanghai", 10)
	from, to := utc("2026-11-19T16:00:00Z"), utc("2026-11-20T16:00:00Z")
	type step struct {
		v          float64
		step, over *float64
	}
	tests := []struct {
		name   string
		q      models.Query
		groups [][]string
		want   [][]step
	}{
		{"whole business", models.Query{Funnel: true}, [][]string{{}}, [][]step{{{150, nil, nil}, {20, fp(20.0 / 150), fp(20.0 / 150)}, {10, fp(0.5), fp(10.0 / 150)}, {9, fp(0.9), fp(9.0 / 150)}}}},
		{"by store: zero steps give null rates", models.Query{Funnel: true, GroupBy: []string{"store"}}, [][]string{{"jd"}, {"tmall"}}, [][]step{
			{{50, nil, nil}, {0, fp(0), fp(0)}, {0, nil, fp(0)}, {1, nil, fp(0.02)}},
			{{100, nil, nil}, {20, fp(0.2), fp(0.2)}, {10, fp(0.5), fp(0.1)}, {8, fp(0.8), fp(0.08)}},
		}},
		{"no data: one funnel of zeros", models.Query{Funnel: true, Filters: map[string][]string{"store": {"none"}}}, [][]string{{}}, [][]step{{{0, nil, nil}, {0, nil, nil}, {0, nil, nil}, {0, nil, nil}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Funnel(context.Background(), Request{Query: tt.q, From: from, To: to})
			require.NoError(t, err)
			require.Len(t, res.Groups, len(tt.want))
			for i, g := range res.Groups {
				require.Equal(t, tt.groups[i], g.Groups)
				require.Equal(t, []string{"sessions", "add-to-cart", "orders", "paid"}, []string{g.Steps[0].Name, g.Steps[1].Name, g.Steps[2].Name, g.Steps[3].Name})
				for j, w := range tt.want[i] {
					s := g.Steps[j]
					require.InDelta(t, w.v, s.Value, 1e-9, "%d/%d", i, j)
					for _, pair := range [][2]*float64{{w.step, s.StepRate}, {w.over, s.OverallRate}} {
						if pair[0] == nil {
							require.Nil(t, pair[1], "%d/%d", i, j)
						} else {
							require.NotNil(t, pair[1], "%d/%d", i, j)
							require.InDelta(t, *pair[0], *pair[1], 1e-9, "%d/%d", i, j)
						}
					}
				}
			}
		})
	}
	_, err := e.Funnel(context.Background(), Request{Query: models.Query{Funnel: true, GroupBy: []string{"campaign"}}, From: from, To: to})
	require.ErrorContains(t, err, "cannot be grouped by \"campaign\"")
}

func TestCampaignsAndTimeline(t *testing.T) {
	sh := loc(t, "Asia/Shanghai")
	d := func(m time.Month, day, h int) time.Time { return time.Date(2026, m, day, h, 0, 0, 0, sh) }
	d11 := calendar.Campaign{ID: "d11", Name: "Double Eleven", Kind: "double11", Stores: []string{"tmall", "jd"}, Phases: []calendar.Phase{
		{Name: calendar.PhaseWarmUp, Start: d(10, 20, 0), End: d(10, 31, 20)}, {Name: calendar.PhasePreSale, Start: d(10, 31, 20), End: d(11, 11, 0)},
		{Name: calendar.PhasePeak, Start: d(11, 11, 0), End: d(11, 12, 0)}, {Name: calendar.PhaseAfterSales, Start: d(11, 12, 0), End: d(11, 20, 0)}}}
	weekly := calendar.Campaign{ID: "wk46", Name: "Weekly deals", Kind: "weekly", Phases: []calendar.Phase{
		{Name: calendar.PhaseActivity, Start: d(11, 10, 0), End: d(11, 13, 0)}}}
	pdd := calendar.Campaign{ID: "pdd-1111", Name: "PDD 11.11", Kind: "double11", Stores: []string{"pdd"}, Phases: []calendar.Phase{
		{Name: calendar.PhasePeak, Start: d(11, 11, 0), End: d(11, 12, 0)}}}
	e := newEngine(t, &memSource{camps: []calendar.Campaign{weekly, d11, pdd}}, "Asia/Shanghai", 10)
	from, to := d(11, 1, 0), d(11, 15, 0)

	rows, err := e.CampaignPhases(context.Background(), from, to, map[string][]string{"store": {"tmall"}})
	require.NoError(t, err)
	var got []string
	for _, r := range rows {
		got = append(got, r.Campaign.ID+"/"+r.Phase.Name)
	}
	require.Equal(t, []string{"d11/pre-sale", "wk46/activity", "d11/peak", "d11/after-sales"}, got, "warm-up ended before the range, pdd is another store's")

	rows, err = e.CampaignPhases(context.Background(), from, to, map[string][]string{"campaign": {"pdd-1111"}})
	require.NoError(t, err)
	require.Len(t, rows, 1)

	tl, err := e.CalendarTimeline(context.Background(), from, to, map[string][]string{"store": {"jd"}})
	require.NoError(t, err)
	require.Equal(t, []time.Time{from, d(11, 10, 0), d(11, 11, 0), d(11, 12, 0), d(11, 13, 0)}, tl.Times)
	require.Equal(t, []string{"d11", "wk46"}, []string{tl.Campaigns[0].ID, tl.Campaigns[1].ID})
	require.Equal(t, []string{"pre-sale", "pre-sale", "peak", "after-sales", "after-sales"}, tl.Phases[0])
	require.Equal(t, []string{"", "activity", "activity", "activity", ""}, tl.Phases[1])

	_, err = e.CampaignPhases(context.Background(), from, to, map[string][]string{"channel": {"app"}})
	require.ErrorContains(t, err, "filtered by store and campaign only")
}
