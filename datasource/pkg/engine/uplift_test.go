package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
)

// upliftData (Shanghai days): promo runs in s1 on 10 and 11 Nov 2026; its
// 4 baseline days are 6 to 9 Nov, of which 8 Nov is a member day (left
// out). s1 sells 100 a day (2 orders) before, 300 (4 orders) and 500 (6
// orders) during; 500 (10 orders) on the member day. s2 sells 50 a day
// throughout (1 order). s1's flash sale on 1 Nov has no sales around it.
func upliftData() *memSource {
	var pts []memPoint
	add := func(day, store string, gmv float64, orders int) {
		for range orders {
			pts = append(pts, order(day+"T03:00:00Z", store, "app", "tv", gmv/float64(orders))...)
		}
	}
	for _, d := range []string{"2026-11-06", "2026-11-07", "2026-11-09"} {
		add(d, "s1", 100, 2)
	}
	add("2026-11-08", "s1", 500, 10)
	add("2026-11-10", "s1", 300, 4)
	add("2026-11-11", "s1", 500, 6)
	for d := 1; d <= 11; d++ {
		add(time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), "s2", 50, 1)
	}
	return &memSource{points: pts, camps: []calendar.Campaign{
		camp("early", "flash", "2026-10-31T16:00:00Z", "2026-11-01T16:00:00Z", "s1"),
		camp("wk-1108", "weekly", "2026-11-08T02:00:00Z", "2026-11-08T14:00:00Z"),
		{ID: "promo", Name: "Promo", Kind: "promo", Stores: []string{"s1"}, Phases: []calendar.Phase{
			{Name: calendar.PhasePreSale, Start: utc("2026-11-09T16:00:00Z"), End: utc("2026-11-10T16:00:00Z")},
			{Name: calendar.PhasePeak, Start: utc("2026-11-10T16:00:00Z"), End: utc("2026-11-11T16:00:00Z")}}},
	}}
}

func TestUplift(t *testing.T) {
	type row struct {
		campaign                 string
		groups                   []string
		during, baseline, uplift any
		days, baseDays           float64
	}
	tests := []struct {
		name     string
		query    string
		from, to string
		now      string
		want     []row
	}{
		{"a sum: per-day averages, the member day left out", `{"kpi":"gmv","uplift":{"baselineDays":4},"filters":{"store":["s1"]}}`,
			"2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"promo", nil, 400.0, 100.0, 3.0, 2, 3}}},
		// AOV during 800/10 = 80, before 300/6 = 50
		{"a ratio: sum/sum over the days", `{"kpi":"aov","uplift":{"baselineDays":4},"filters":{"store":["s1"]}}`,
			"2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"promo", nil, 80.0, 50.0, 0.6, 2, 3}}},
		// The member day's baseline is 4 to 7 Nov, s1 selling only on 6 and 7
		// Nov: (0+0+100+100)/4 = 50, during 500.
		{"every campaign of the range, in start order", `{"kpi":"gmv","uplift":{"baselineDays":4},"filters":{"store":["s1"]}}`,
			"2026-11-07T00:00:00Z", "2026-11-11T00:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"wk-1108", nil, 500.0, 50.0, 9.0, 1, 4}, {"promo", nil, 400.0, 100.0, 3.0, 2, 3}}},
		{"grouped by store: promo runs in s1 only", `{"kpi":"gmv","uplift":{"baselineDays":4},"groupBy":["store"]}`,
			"2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"promo", []string{"s1"}, 400.0, 100.0, 3.0, 2, 3}}},
		{"the campaign filter names campaigns, not orders", `{"kpi":"gmv","uplift":{"baselineDays":4},"filters":{"campaign":["wk-1108"]},"groupBy":["store"]}`,
			"2026-11-01T00:00:00Z", "2026-11-12T00:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"wk-1108", []string{"s1"}, 500.0, 50.0, 9.0, 1, 4}, {"wk-1108", []string{"s2"}, 50.0, 50.0, 0.0, 1, 4}}},
		// Now is 11 Nov 12:00 Shanghai: the day counts as half.
		{"a running campaign: today by its elapsed part", `{"kpi":"gmv","uplift":{"baselineDays":4},"filters":{"store":["s1"]}}`,
			"2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", "2026-11-11T04:00:00Z",
			[]row{{"promo", nil, 800 / 1.5, 100.0, 800/1.5/100 - 1, 1.5, 3}}},
		{"one baseline day", `{"kpi":"gmv","uplift":{"baselineDays":1},"filters":{"store":["s1"]}}`,
			"2026-11-08T00:00:00Z", "2026-11-08T12:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"wk-1108", nil, 500.0, 100.0, 4.0, 1, 1}}},
		{"a baseline of zeros: no uplift", `{"kpi":"gmv","uplift":{"baselineDays":1},"filters":{"store":["s1"]}}`,
			"2026-10-31T20:00:00Z", "2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z",
			[]row{{"early", nil, 0.0, 0.0, nil, 1, 1}}},
		{"no campaign in the range: no rows", `{"kpi":"gmv","uplift":{}}`,
			"2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z", "2027-01-01T00:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, upliftData(), "Asia/Shanghai", 100)
			e.Now = func() time.Time { return utc(tt.now) }
			q, err := models.ParseQuery([]byte(tt.query))
			require.NoError(t, err)
			res, err := e.Uplift(context.Background(), Request{Query: q, From: utc(tt.from), To: utc(tt.to)})
			require.NoError(t, err)
			require.Len(t, res.Rows, len(tt.want))
			for i, w := range tt.want {
				r := res.Rows[i]
				require.Equal(t, w.campaign, r.Campaign.ID, i)
				require.Equal(t, nilIfEmpty(w.groups), nilIfEmpty(r.Groups), i)
				for j, pair := range []struct {
					want any
					got  *float64
				}{{w.during, r.During}, {w.baseline, r.Baseline}, {w.uplift, r.Uplift}} {
					if pair.want == nil {
						require.Nil(t, pair.got, "%d/%d", i, j)
						continue
					}
					require.NotNil(t, pair.got, "%d/%d", i, j)
					require.InDelta(t, pair.want, *pair.got, 1e-9, "%d/%d", i, j)
				}
				require.InDelta(t, w.days, r.Days, 1e-9, i)
				require.InDelta(t, w.baseDays, r.BaselineDays, 1e-9, i)
			}
		})
	}
}

func TestUpliftErrors(t *testing.T) {
	tests := []struct {
		name, query, msg string
	}{
		{"a distinct count", `{"kpi":"buyers","uplift":{}}`, "counts distinct users"},
		{"a ratio of distinct counts", `{"kpi":"conversion_rate","uplift":{}}`, "counts distinct users"},
		{"stickiness", `{"kpi":"stickiness","uplift":{}}`, "counts distinct users"},
		{"a cumulative KPI", `{"kpi":"total_users","uplift":{}}`, "sums and ratios"},
		{"the catalog's uplift entry", `{"kpi":"campaign_uplift","uplift":{}}`, "is the uplift transform applied to a sum or ratio KPI"},
		{"no KPI", `{"uplift":{}}`, "no KPI chosen"},
		{"a dimension the KPI lacks", `{"kpi":"sessions","uplift":{},"groupBy":["campaign"]}`, "cannot be split by \"campaign\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, upliftData(), "Asia/Shanghai", 100)
			q, err := models.ParseQuery([]byte(tt.query))
			require.NoError(t, err)
			_, err = e.Uplift(context.Background(), Request{Query: q, From: utc("2026-11-10T00:00:00Z"), To: utc("2026-11-11T00:00:00Z")})
			requirePluginError(t, err, tt.msg)
		})
	}
	e := newEngine(t, upliftData(), "Asia/Shanghai", 1)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","uplift":{},"groupBy":["store"],"filters":{"campaign":["wk-1108"]}}`))
	require.NoError(t, err)
	_, err = e.Uplift(context.Background(), Request{Query: q, From: utc("2026-11-01T00:00:00Z"), To: utc("2026-11-12T00:00:00Z")})
	require.ErrorContains(t, err, "returns 2 series, more than the limit of 1")
}
