package engine

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/analysis/band"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
)

// anomalyData: hourly GMV of tmall and jd at Shanghai 10:00 and 11:00 (02:00
// and 03:00 UTC) on Monday 23 Nov 2026 and the four Mondays before; nothing
// at 12:00, the hour in progress at the engine's now (04:30 UTC).
func anomalyData() *memSource {
	var pts []memPoint
	add := func(day, hour, store string, v float64) {
		pts = append(pts, order(day+"T"+hour+":30:00Z", store, "app", "tv", v)...)
	}
	// weeks back:          1    2    3    4
	days := []string{"2026-11-16", "2026-11-09", "2026-11-02", "2026-10-26"}
	for i, v := range []float64{1000, 1100, 900, 1050} {
		add(days[i], "02", "tmall", v)
	}
	// both stores sell before the first history week (a series' first day with
	// data is not history: the store may have opened that afternoon)
	add("2026-10-25", "08", "tmall", 100)
	add("2026-10-25", "08", "jd", 100)
	for _, d := range days {
		add(d, "03", "tmall", 1000)
		add(d, "02", "jd", 500)
		add(d, "03", "jd", 500)
	}
	add("2026-11-23", "02", "tmall", 1500) // high two hours running: flagged
	add("2026-11-23", "03", "tmall", 1300)
	add("2026-11-23", "02", "jd", 1500) // high in jd's campaign peak: planned
	add("2026-11-23", "03", "jd", 1500) // high after it, but for one hour only
	return &memSource{points: pts, camps: []calendar.Campaign{{ID: "jd-flash", Name: "JD flash sale", Kind: "activity", Stores: []string{"jd"},
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: utc("2026-11-23T02:00:00Z"), End: utc("2026-11-23T03:00:00Z")}}}}}
}

func anomalyEngine(t *testing.T, src Source) *Engine {
	e := newEngine(t, src, "Asia/Shanghai", 100)
	e.Now = func() time.Time { return utc("2026-11-23T04:30:00Z") }
	return e
}

func TestAnomaly(t *testing.T) {
	from, to := utc("2026-11-23T02:00:00Z"), utc("2026-11-23T05:00:00Z")
	e := anomalyEngine(t, anomalyData())
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: from, To: to})
	require.NoError(t, err)
	require.Equal(t, []string{"2026-11-23T02:00:00Z", "2026-11-23T03:00:00Z", "2026-11-23T04:00:00Z"}, times(res.Times))
	require.InDelta(t, 3.0, res.Anomaly, 0)
	// tmall 02:00: history 900 1000 1050 1100: median 1025, MAD 50, spread 74.13
	// (the noise floor is lower: 8 values, too few for a clean level, give a robust
	// level of 0.335 and √(0.335·1025) = 18.5). 03:00: history 1000 ×4: 5 % = 50.
	// High values score on the square-root scale: 2·√1025·(√1500 − √1025)/74.13.
	// 04:00: no history, no value yet (in progress): expected 0, no score.
	sp := 50 * band.MADScale
	z0 := 2 * math.Sqrt(1025) * (math.Sqrt(1500) - math.Sqrt(1025)) / sp
	z1 := 2 * math.Sqrt(1000) * (math.Sqrt(1300) - math.Sqrt(1000)) / 50
	up0 := math.Pow(math.Sqrt(1025)+3*sp/(2*math.Sqrt(1025)), 2)
	up1 := math.Pow(math.Sqrt(1000)+3*50/(2*math.Sqrt(1000)), 2)
	// jd: history 500 ×4: spread 25 (5 %). 02:00 is its campaign peak (not
	// flagged for being high); 03:00 is high alone, but 29 spreads: extreme.
	// tmall: 02:00 scores 5.8 and 03:00 5.6, both beyond 5 = 5k/3.
	zj := 2 * math.Sqrt(500) * (math.Sqrt(1500) - math.Sqrt(500)) / 25
	upj := math.Pow(math.Sqrt(500)+3*25/(2*math.Sqrt(500)), 2)
	want := map[string][][]any{
		"jd": {{1500.0, 1500.0, 0.0}, {500.0, 500.0, 0.0}, {425.0, 425.0, 0.0}, {upj, upj, 0.0}, {zj, zj, nil}, {0.0, 1.0, nil}},
		"tmall": {{1500.0, 1300.0, 0.0}, {1025.0, 1000.0, 0.0}, {1025 - 3*sp, 850.0, 0.0}, {up0, up1, 0.0},
			{z0, z1, nil}, {1.0, 1.0, nil}},
	}
	roles := []string{RoleCurrent, RoleExpected, RoleLower, RoleUpper, RoleScore, RoleAnomaly}
	require.Len(t, res.Series, 12)
	for i, s := range res.Series {
		store := s.Groups[0]
		require.Equal(t, roles[i%6], s.Role, i)
		got := vals(s)
		for j := range got {
			if want[store][i%6][j] == nil {
				require.Nil(t, got[j], "%s %s bucket %d", store, s.Role, j)
				continue
			}
			require.InDelta(t, want[store][i%6][j], got[j], 1e-6, "%s %s bucket %d", store, s.Role, j)
		}
	}
}

// TestAnomalyCampaignHistory: a campaign in a past week is left out of the baseline.
func TestAnomalyCampaignHistory(t *testing.T) {
	src := anomalyData()
	src.camps = append(src.camps, calendar.Campaign{ID: "tmall-old", Name: "old", Kind: "activity", Stores: []string{"tmall"},
		Phases: []calendar.Phase{{Name: calendar.PhasePeak, Start: utc("2026-11-09T00:00:00Z"), End: utc("2026-11-10T00:00:00Z")}}})
	e := anomalyEngine(t, src)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","filters":{"store":["tmall"]},"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-23T02:00:00Z"), To: utc("2026-11-23T03:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Series, 6)
	// history 1000 900 1050 (the 1100 was a campaign day): median 1000, MAD 50
	require.InDelta(t, 1000.0, *res.Series[1].Values[0], 1e-9)
	require.InDelta(t, 1000-3*50*band.MADScale, *res.Series[2].Values[0], 1e-6)
}

func TestAnomalyVanishedSeries(t *testing.T) {
	src := anomalyData()
	for _, d := range []string{"2026-11-16", "2026-11-09", "2026-11-02", "2026-10-26", "2026-10-25"} {
		src.points = append(src.points, order(d+"T02:10:00Z", "pdd", "app", "tv", 40)...)
		src.points = append(src.points, order(d+"T03:10:00Z", "pdd", "app", "tv", 40)...)
	}
	e := anomalyEngine(t, src)
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","interval":"1h","filters":{"store":["pdd"]},"groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, err := e.Run(context.Background(), Request{Query: q, From: utc("2026-11-23T02:00:00Z"), To: utc("2026-11-23T04:00:00Z")})
	require.NoError(t, err)
	require.Len(t, res.Series, 6, "a store without data now is still checked")
	require.Equal(t, []string{"pdd"}, res.Series[0].Groups)
	require.Equal(t, []any{0.0, 0.0}, vals(res.Series[0]))
	require.Equal(t, []any{1.0, 1.0}, vals(res.Series[5]), "silent for two hours")
}

func TestAnomalyRegions(t *testing.T) {
	e := anomalyEngine(t, anomalyData())
	// no interval: 1h
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","groupBy":["store"],"anomaly":{"weeks":4}}`))
	require.NoError(t, err)
	res, regions, err := e.AnomalyRegions(context.Background(), Request{Query: q, From: utc("2026-11-23T00:00:00Z"), To: utc("2026-11-23T06:00:00Z")})
	require.NoError(t, err)
	require.Equal(t, time.Hour, res.Step.Fixed)
	require.Len(t, regions, 2, "tmall's two high hours; jd's campaign peak is planned, its next hour extreme")
	require.Equal(t, []string{"tmall"}, regions[0].Groups)
	require.Equal(t, []string{"jd"}, regions[1].Groups)
	require.True(t, utc("2026-11-23T03:00:00Z").Equal(regions[1].Start))
	require.True(t, utc("2026-11-23T02:00:00Z").Equal(regions[0].Start))
	require.True(t, utc("2026-11-23T04:00:00Z").Equal(regions[0].End))
	require.InDelta(t, 1500.0, regions[0].Value, 0)
	require.InDelta(t, 1025.0, regions[0].Expected, 0)
	require.InDelta(t, 2*math.Sqrt(1025)*(math.Sqrt(1500)-math.Sqrt(1025))/(50*band.MADScale), regions[0].Score, 1e-6)

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
			e := anomalyEngine(t, anomalyData())
			e.SeriesLimit = tt.limit
			q, err := models.ParseQuery([]byte(tt.json))
			require.NoError(t, err)
			_, err = e.Run(context.Background(), Request{Query: q, From: from, To: tt.to})
			requirePluginError(t, err, tt.msg)
		})
	}
}
