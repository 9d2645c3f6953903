package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
)

// TestRobustBand: hand-computed medians and MADs (spread = max(1.4826·MAD, 5 % of |median|), and √median for counts).
func TestRobustBand(t *testing.T) {
	normal := []float64{100, 110, 90, 105, 95, 100} // median 100, |dev| 0,0,5,5,10,10: MAD 5, spread 7.413
	tests := []struct {
		name    string
		v       *float64
		history []float64
		k       float64
		noUp    bool
		counts  bool
		want    []any // expected, lower, upper, score, flag (nil = null)
	}{
		{"a spike is flagged", fp(200), normal, 3, false, false, []any{100.0, 100 - 3*7.413, 100 + 3*7.413, 100 / 7.413, 1.0}},
		{"a normal hour is not", fp(110), normal, 3, false, false, []any{100.0, 100 - 3*7.413, 100 + 3*7.413, 10 / 7.413, 0.0}},
		{"a drop is flagged", fp(70), normal, 3, false, false, []any{100.0, 100 - 3*7.413, 100 + 3*7.413, -30 / 7.413, 1.0}},
		{"higher sensitivity (k=2) flags a smaller change", fp(118), normal, 2, false, false, []any{100.0, 100 - 2*7.413, 100 + 2*7.413, 18 / 7.413, 1.0}},
		// 90 95 100 105 110 1000: median 102.5; |dev| 2.5 2.5 7.5 7.5 12.5 897.5: MAD 7.5, spread 11.1195.
		// The mean and standard deviation would be 250 and 369: the spike would hide.
		{"an outlier in the history barely moves the band", fp(200), []float64{100, 110, 90, 105, 95, 1000}, 3, false, false,
			[]any{102.5, 102.5 - 3*11.1195, 102.5 + 3*11.1195, 97.5 / 11.1195, 1.0}},
		{"a campaign day is not flagged for being high", fp(200), normal, 3, true, false, []any{100.0, 100 - 3*7.413, 100 + 3*7.413, 100 / 7.413, 0.0}},
		{"a campaign day is still flagged for a drop", fp(10), normal, 3, true, false, []any{100.0, 100 - 3*7.413, 100 + 3*7.413, -90 / 7.413, 1.0}},
		{"a flat history: spread floored at 5 % of the median", fp(120), []float64{100, 100, 100, 100}, 3, false, false, []any{100.0, 85.0, 115.0, 4.0, 1.0}},
		{"a flat history, small change", fp(104), []float64{100, 100, 100, 100}, 3, false, false, []any{100.0, 85.0, 115.0, 0.8, 0.0}},
		{"an all-zero history: no score, no flag", fp(3), []float64{0, 0, 0, 0}, 3, false, false, []any{0.0, 0.0, 0.0, nil, 0.0}},
		{"even history: median of the middle two", fp(10), []float64{8, 10, 12, 14}, 3, false, false, // median 11; |dev| 1 1 3 3: MAD 2
			[]any{11.0, 11 - 3*2*1.4826, 11 + 3*2*1.4826, -1 / (2 * 1.4826), 0.0}},
		{"a null value: band only", nil, normal, 3, false, false, []any{100.0, 100 - 3*7.413, 100 + 3*7.413, nil, nil}},
		// counts: 8 10 6 8: median 8, MAD 1 (spread 1.48); the Poisson floor √8 = 2.83 widens it
		{"a count at night: Poisson floor", fp(3), []float64{8, 10, 6, 8}, 3, false, true,
			[]any{8.0, 8 - 3*2.8284, 8 + 3*2.8284, -5 / 2.8284, 0.0}},
		{"the same without the floor is flagged", fp(3), []float64{8, 10, 6, 8}, 3, false, false,
			[]any{8.0, 8 - 3*1.4826, 8 + 3*1.4826, -5 / 1.4826, 1.0}},
		{"too little history: nothing", fp(200), []float64{100, 100}, 3, false, false, []any{nil, nil, nil, nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hist := append([]float64(nil), tt.history...)
			b := RobustBand(tt.v, tt.history, tt.k, tt.noUp, tt.counts)
			require.Equal(t, hist, tt.history, "history not modified")
			for i, got := range []*float64{b.Expected, b.Lower, b.Upper, b.Score, b.Flag} {
				if tt.want[i] == nil {
					require.Nil(t, got, i)
					continue
				}
				require.NotNil(t, got, i)
				require.InDelta(t, tt.want[i], *got, 1e-3, i)
			}
		})
	}
}

// anomalyData: hourly GMV of tmall and jd at Shanghai 10:00 and 11:00 (02:00
// and 03:00 UTC) on Monday 23 Nov 2026 and the four Mondays before.
func anomalyData() *memSource {
	var pts []memPoint
	add := func(day, hour, store string, v float64) {
		pts = append(pts, order(day+"T"+hour+":30:00Z", store, "app", "tv", v)...)
	}
	// weeks back:          1    2    3    4
	days := []string{"2026-11-16", "2026-11-09", "2026-11-02", "2026-10-26"}
	for i, v := range []float64{100, 110, 90, 1000} { // an outlier four weeks back
		add(days[i], "02", "tmall", v)
	}
	for _, d := range days {
		add(d, "03", "tmall", 100)
		add(d, "02", "jd", 50)
		add(d, "03", "jd", 50)
	}
	add("2026-11-23", "02", "tmall", 500) // a spike
	add("2026-11-23", "03", "tmall", 102) // normal
	add("2026-11-23", "02", "jd", 200)    // high, but jd's campaign peak
	add("2026-11-23", "03", "jd", 50)
	return &memSource{points: pts, camps: []calendar.Campaign{{ID: "jd-flash", Name: "JD flash sale", Kind: "activity", Stores: []string{"jd"},
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: utc("2026-11-23T02:00:00Z"), End: utc("2026-11-23T03:00:00Z")}}}}}
}

func TestAnomaly(t *testing.T) {
	from, to := utc("2026-11-23T02:00:00Z"), utc("2026-11-23T04:00:00Z")
	e := newEngine(t, anomalyData(), "Asia/Shanghai", 100)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, []string{"2026-11-23T02:00:00Z", "2026-11-23T03:00:00Z"}, times(res.Times))
	require.InDelta(t, 3.0, res.Anomaly, 0)
	// tmall 02:00: history 100 110 90 1000: median 105, |dev| 5 5 15 895: MAD 10, spread 14.826.
	// tmall 03:00: history 100 ×4: spread 5 (the floor). jd: 50 ×4, spread 2.5.
	want := map[string][][]any{
		"jd": {{200.0, 50.0}, {50.0, 50.0}, {42.5, 42.5}, {57.5, 57.5}, {60.0, 0.0}, {0.0, 0.0}}, // the peak is not flagged
		"tmall": {{500.0, 102.0}, {105.0, 100.0}, {105 - 3*14.826, 85.0}, {105 + 3*14.826, 115.0},
			{395 / 14.826, 0.4}, {1.0, 0.0}},
	}
	roles := []string{RoleCurrent, RoleExpected, RoleLower, RoleUpper, RoleScore, RoleAnomaly}
	require.Len(t, res.Series, 12)
	for i, s := range res.Series {
		store := s.Groups[0]
		require.Equal(t, roles[i%6], s.Role, i)
		got := vals(s)
		for j := range got {
			require.InDelta(t, want[store][i%6][j], got[j], 1e-3, "%s %s bucket %d", store, s.Role, j)
		}
	}
}

// TestAnomalyCampaignHistory: a campaign in a past week is left out of the baseline.
func TestAnomalyCampaignHistory(t *testing.T) {
	src := anomalyData()
	src.camps = append(src.camps, calendar.Campaign{ID: "tmall-old", Name: "old", Kind: "activity", Stores: []string{"tmall"},
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: utc("2026-10-26T00:00:00Z"), End: utc("2026-10-27T00:00:00Z")}}})
	e := newEngine(t, src, "Asia/Shanghai", 100)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","filters":{"store":["tmall"]},"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-23T02:00:00Z"), To: utc("2026-11-23T03:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Series, 6)
	// history 100 110 90 (the 1000 was a campaign day): median 100, MAD 10, spread 14.826
	require.InDelta(t, 100.0, *res.Series[1].Values[0], 1e-9)
	require.InDelta(t, 100+3*14.826, *res.Series[3].Values[0], 1e-3)
}

func TestAnomalyVanishedSeries(t *testing.T) {
	src := anomalyData()
	src.points = append(src.points, order("2026-11-16T02:10:00Z", "pdd", "app", "tv", 40)...)
	for _, d := range []string{"2026-11-09", "2026-11-02", "2026-10-26"} {
		src.points = append(src.points, order(d+"T02:10:00Z", "pdd", "app", "tv", 40)...)
	}
	e := newEngine(t, src, "Asia/Shanghai", 100)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","filters":{"store":["pdd"]},"groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-23T02:00:00Z"), To: utc("2026-11-23T03:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Series, 6, "a store without data now is still checked")
	require.Equal(t, []string{"pdd"}, res.Series[0].Groups)
	require.InDelta(t, 0.0, *res.Series[0].Values[0], 0)
	require.InDelta(t, 1.0, *res.Series[5].Values[0], 0)
}

func TestAnomalyRegions(t *testing.T) {
	e := newEngine(t, anomalyData(), "Asia/Shanghai", 100)
	// no interval: 1h
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, regions, err := e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.NoError(t, err)
	require.Equal(t, time.Hour, res.Step.Fixed)
	require.Len(t, regions, 1, "tmall's spike; jd's high hour is a campaign peak")
	require.Equal(t, []string{"tmall"}, regions[0].Groups)
	require.True(t, utc("2026-11-23T02:00:00Z").Equal(regions[0].Start))
	require.True(t, utc("2026-11-23T03:00:00Z").Equal(regions[0].End))
	require.InDelta(t, 500.0, regions[0].Value, 0)
	require.InDelta(t, 105.0, regions[0].Expected, 0)
	require.InDelta(t, 395/14.826, regions[0].Score, 1e-3)

	q.Anomaly = nil // the defaults: k = 3, 6 weeks
	res, _, err = e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.NoError(t, err)
	require.InDelta(t, 3.0, res.Anomaly, 0)

	q.Compare = "1d"
	_, _, err = e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.ErrorContains(t, err, "no compare")
}

// TestAnomalyDST: in New York the range of 1 Nov 2026 00:00-04:00 holds five
// hours (01:00 twice, DST ends); each is compared with the same local hour of
// the previous weeks, not with the bucket of the same index.
func TestAnomalyDST(t *testing.T) {
	var pts []memPoint
	for w := 1; w <= 4; w++ {
		day := utc("2026-11-01T04:00:00Z").AddDate(0, 0, -7*w) // 00:00 EDT
		for h := range 4 {                                     // 00:00 .. 03:00 EDT: 10, 20, 30, 40
			pts = append(pts, order(day.Add(time.Duration(h)*time.Hour+time.Minute).Format(time.RFC3339), "s", "app", "tv", float64(10*(h+1)))...)
		}
	}
	src := &memSource{points: pts}
	e := newEngine(t, src, "America/New_York", 100)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-01T04:00:00Z"), To: utc("2026-11-01T09:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Times, 5)
	// 00:00 EDT, 01:00 EDT, 01:00 EST, 02:00 EST, 03:00 EST
	require.Equal(t, []any{10.0, 20.0, 20.0, 30.0, 40.0}, vals(res.Series[1]))
}

func TestAnomalyErrors(t *testing.T) {
	from := utc("2026-11-23T02:00:00Z")
	tests := []struct {
		name, json string
		to         time.Time
		limit      int
		msg        string
	}{
		{"daily interval", `{"kpi":"gmv","interval":"day","anomaly":{}}`, from.Add(48 * time.Hour), 100, "needs an interval of 1h or finer, got day"},
		{"2h interval", `{"kpi":"gmv","interval":"2h","anomaly":{}}`, from.Add(4 * time.Hour), 100, "got 2h"},
		{"stickiness", `{"kpi":"stickiness","interval":"day","anomaly":{}}`, from.Add(48 * time.Hour), 100, "not computed for KPI stickiness"},
		{"series limit counts the band", `{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`, from.Add(time.Hour), 10, "returns 12 series"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, anomalyData(), "Asia/Shanghai", tt.limit)
			q, err := models.ParseQuery([]byte(tt.json))
			require.NoError(t, err)
			_, err = e.Run(context.Background(), Request{Query: q, From: from, To: tt.to})
			require.ErrorContains(t, err, tt.msg)
			var es backend.ErrorWithSource
			require.True(t, errors.As(err, &es))
			require.Equal(t, backend.ErrorSourcePlugin, es.ErrorSource())
		})
	}
}
