package bench

import (
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/ingesttest"
)

// The simulated events are the same whatever the day and hour the benchmark
// runs: only moved, by whole minutes, so that the last one is in the current
// minute (or the one before) and none is in the future.
func TestSimulateIndependentOfTheClock(t *testing.T) {
	o := Options{Events: 3000, Stores: 3, Span: 2 * time.Hour, Scale: 5}
	at := func(s string) func() time.Time {
		return func() time.Time {
			v, err := time.Parse(time.RFC3339Nano, s)
			require.NoError(t, err)
			return v
		}
	}
	o.Now = at("2027-03-01T03:17:42.5Z")
	a, err := simulate(o)
	require.NoError(t, err)
	o.Now = at("2026-12-04T21:45:10Z")
	b, err := simulate(o)
	require.NoError(t, err)
	require.Len(t, a, 3000)
	require.Len(t, b, 3000)

	_, lastA := covered(a)
	_, lastB := covered(b)
	require.WithinRange(t, lastA, at("2027-03-01T03:16:00Z")(), at("2027-03-01T03:17:42.5Z")(), "in the current minute or the one before, not after now")
	require.WithinRange(t, lastB, at("2026-12-04T21:44:00Z")(), at("2026-12-04T21:45:10Z")())
	shift := a[0].Time.Sub(b[0].Time)
	require.Zero(t, shift%time.Minute, "moved by whole minutes: the same one-minute windows")
	for i := range a {
		require.Equal(t, a[i].ID, b[i].ID)
		require.Equal(t, a[i].Store, b[i].Store)
		require.Equal(t, a[i].Type, b[i].Type)
		require.Equal(t, shift, a[i].Time.Sub(b[i].Time), "event %d", i)
	}

	// Another window gives other events.
	o.End = time.Date(2026, 11, 11, 13, 0, 0, 0, time.UTC)
	c, err := simulate(o)
	require.NoError(t, err)
	require.NotEqual(t, a[len(a)-1].ID, c[len(c)-1].ID)
}

// The commit tail is read from the histogram as Prometheus serves it, and
// counts only the commits between the two readings.
func TestCommitTail(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: commitMetric, Buckets: []float64{.001, .01, .05, .1}})
	reg.MustRegister(h)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	for range 50 {
		h.Observe(0.2) // before the run: not counted
	}
	before, err := ingesttest.Histogram(srv.URL, commitMetric, "")
	require.NoError(t, err)
	for range 97 {
		h.Observe(0.0005)
	}
	h.Observe(0.03)
	h.Observe(0.07)
	h.Observe(0.3)
	after, err := ingesttest.Histogram(srv.URL, commitMetric, "")
	require.NoError(t, err)
	require.Equal(t, durationTail{N: 100, Over50ms: 2, P99: "≤ 100ms"}, tailBetween(before, after))

	h.Observe(0.3)
	h.Observe(0.3)
	again, err := ingesttest.Histogram(srv.URL, commitMetric, "")
	require.NoError(t, err)
	require.Equal(t, durationTail{N: 2, Over50ms: 2, P99: "> 100ms"}, tailBetween(after, again))
	require.Equal(t, durationTail{}, tailBetween(again, again))

	empty := httptest.NewServer(promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}))
	defer empty.Close()
	_, err = ingesttest.Histogram(empty.URL, commitMetric, "")
	require.ErrorIs(t, err, ingesttest.ErrNoHistogram)
}

// Only the series with the asked labels is read from a histogram vector.
func TestHistogramLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: requestMetric, Buckets: []float64{.01, .05, .1}}, []string{"endpoint", "code"})
	reg.MustRegister(h)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	_, err := ingesttest.Histogram(srv.URL, requestMetric, acceptedEvents)
	require.ErrorIs(t, err, ingesttest.ErrNoHistogram)
	h.WithLabelValues("events", "202").Observe(0.002)
	h.WithLabelValues("events", "202").Observe(0.07)
	h.WithLabelValues("events", "400").Observe(0.5)
	h.WithLabelValues("metrics", "202").Observe(0.5)
	got, err := ingesttest.Histogram(srv.URL, requestMetric, acceptedEvents)
	require.NoError(t, err)
	require.Equal(t, map[float64]float64{.01: 1, .05: 1, .1: 2, math.Inf(1): 2}, got)
	require.Equal(t, durationTail{N: 2, Over50ms: 1, P99: "≤ 100ms"}, tailBetween(map[float64]float64{}, got))
}
