package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
)

// wallSketches are the sketches of a wall screen's day at the size of
// docs/benchmarks.md's query benchmark: 50 stores × 4 channels, hourly ones
// (store, channel) for 17 hours and daily ones (store, channel, category),
// today and a week earlier.
func wallSketches(day time.Time) []memSketch {
	r := rand.New(rand.NewPCG(1, 2))
	var out []memSketch
	for _, d := range []time.Time{day, day.AddDate(0, 0, -7)} {
		for s := range 50 {
			for c := range 4 {
				tags := map[string]string{"store": fmt.Sprintf("s%02d", s), "channel": fmt.Sprintf("c%d", c)}
				for h := range 17 {
					var ids []int
					for range 5 + r.IntN(20) {
						ids = append(ids, s*100000+r.IntN(3000))
					}
					out = append(out, memSketch{t: d.Add(time.Duration(h) * time.Hour), kind: schema.KindActive, window: schema.WindowHour, tags: tags, ids: ids})
				}
				for cat := range 8 {
					tags := map[string]string{"store": tags["store"], "channel": tags["channel"], "category": fmt.Sprintf("k%d", cat)}
					var ids []int
					for range 10 + r.IntN(60) {
						ids = append(ids, s*100000+r.IntN(3000))
					}
					out = append(out, memSketch{t: d, kind: schema.KindActive, window: schema.WindowDay, tags: tags, ids: ids})
				}
			}
		}
	}
	return out
}

// BenchmarkCachedDistinctPanel is the active-users panel of the wall screen
// (today's total and the hourly sparkline, both with compare 1w) answered
// from the read cache: what a cached screen costs the plugin per distinct
// count panel.
func BenchmarkCachedDistinctPanel(b *testing.B) {
	day := utc("2026-11-23T16:00:00Z") // local midnight, Asia/Shanghai
	to := day.Add(17 * time.Hour)
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	e := &Engine{Catalog: kpi.Default(), Source: NewCachingSource(&memSource{sketches: wallSketches(day)}, time.Hour, nil),
		Location: sh, SeriesLimit: 500, Now: func() time.Time { return to }}
	var reqs []Request
	for _, interval := range []string{models.IntervalDay, models.IntervalAuto} {
		js := fmt.Sprintf(`{"kpi":"active_users","interval":%q,"compare":"1w","compareOutputs":["series","change"]}`, interval)
		q, err := models.ParseQuery(json.RawMessage(js))
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, Request{Query: q, From: day, To: to, Interval: time.Hour, MaxDataPoints: 300})
	}
	ctx := context.Background()
	run := func() {
		for _, r := range reqs {
			if _, err := e.Run(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	run() // fills the cache
	b.ResetTimer()
	for range b.N {
		run()
	}
}
