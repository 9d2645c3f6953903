package engine

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/sim"
)

// TestLifecycleEvaluation measures how often ClassifyLifecycle finds the
// simulator's configured stage of each category, over several seeds and
// range lengths, from the simulated events counted per category and local
// week (no InfluxDB: the classifier alone). It takes a minute, so it runs
// only with STOREPULSE_LIFECYCLE_EVAL=1 and logs a table for docs/query.md.
func TestLifecycleEvaluation(t *testing.T) {
	if os.Getenv("STOREPULSE_LIFECYCLE_EVAL") == "" {
		t.Skip("set STOREPULSE_LIFECYCLE_EVAL=1 to measure the life-cycle rule on simulated seeds")
	}
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, sh) // a Monday: the simulator's day 0
	const seeds, weeks = 6, 20
	ends := []int{8, 10, 12, 14, 16, 18, 20}
	type count struct{ ok, n int }
	res := map[string]map[int]*count{}
	for _, kpiName := range []string{"sessions", "gmv"} {
		res[kpiName] = map[int]*count{}
		for _, e := range ends {
			res[kpiName][e] = &count{}
		}
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		g, err := sim.New(sim.Config{Seed: seed, NumStores: 2, Scale: 3, Days: 7 * weeks, Start: start})
		require.NoError(t, err)
		sessions, gmv := map[string][]float64{}, map[string][]float64{}
		for {
			evs, ok := g.Next()
			if !ok {
				break
			}
			for _, ev := range evs {
				w := int(ev.Time.Sub(start) / (7 * 24 * time.Hour))
				if ev.Category == "" || w >= weeks {
					continue
				}
				for _, m := range []map[string][]float64{sessions, gmv} {
					if m[ev.Category] == nil {
						m[ev.Category] = make([]float64, weeks)
					}
				}
				switch ev.Type {
				case sim.TypeSession:
					sessions[ev.Category][w]++
				case sim.TypeOrder:
					gmv[ev.Category][w] += ev.Amount
				}
			}
		}
		stages := g.CategoryStages()
		for kpiName, m := range map[string]map[string][]float64{"sessions": sessions, "gmv": gmv} {
			for cat, ws := range m {
				for _, e := range ends {
					got, _, _ := ClassifyLifecycle(ws[:e])
					c := res[kpiName][e]
					c.n++
					if got == stages[cat] {
						c.ok++
					}
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("\n| weeks from the simulator's start |")
	for _, e := range ends {
		fmt.Fprintf(&b, " %d |", e)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(ends)) + "\n")
	for _, kpiName := range []string{"sessions", "gmv"} {
		b.WriteString("| " + kpiName + " by category | ")
		for _, e := range ends {
			c := res[kpiName][e]
			fmt.Fprintf(&b, "%d/%d | ", c.ok, c.n)
		}
		b.WriteString("\n")
	}
	t.Log(b.String())
}
