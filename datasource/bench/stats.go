package bench

import (
	"slices"
	"time"
)

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of ds: the
// smallest value with at least p % of the values at or below it. It is always
// one of the measured values, never an interpolation. 0 for no values.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// rank = ceil(p/100 · n), computed in integers to avoid 0.95·20 = 19.000000000000004.
	n := len(s)
	rank := (int(p*100)*n + 9999) / 10000
	return s[min(max(rank, 1), n)-1]
}

// Summary of one measured series.
type Summary struct {
	N        int
	P50, P95 time.Duration
}

// Summarize computes the summary of ds.
func Summarize(ds []time.Duration) Summary {
	return Summary{N: len(ds), P50: Percentile(ds, 50), P95: Percentile(ds, 95)}
}

// MedianRatio is the median of a[i]/b[i] over pairs measured in the same
// iteration: robust to the machine's load drifting between iterations.
func MedianRatio(a, b []time.Duration) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			rs = append(rs, float64(a[i])/float64(b[i]))
		}
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}
