package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
