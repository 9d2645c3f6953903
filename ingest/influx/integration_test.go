package influx

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// sumByStore sums field of measurement per store over the hour before the
// tests' now.
func sumByStore(ctx context.Context, t *testing.T, c *Client, measurement, field string) map[string]float64 {
	t.Helper()
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q and r._field == %q)
  |> group(columns: ["store"])
  |> sum()`, c.Bucket(), testclock.Now().Add(-time.Hour).Format(time.RFC3339Nano), testclock.Now().Format(time.RFC3339Nano), measurement, field)
	res, err := c.Query(ctx, flux)
	require.NoError(t, err)
	defer res.Close()
	got := map[string]float64{}
	for res.Next() {
		store, ok := res.Record().ValueByKey("store").(string)
		require.True(t, ok)
		v, ok := res.Record().Value().(float64)
		require.True(t, ok, "value %T", res.Record().Value())
		got[store] = v
	}
	require.NoError(t, res.Err())
	return got
}

// countPoints counts the points of measurement in the hour before the tests'
// now.
func countPoints(ctx context.Context, t *testing.T, c *Client, measurement string) int64 {
	t.Helper()
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q)
  |> group()
  |> count()`, c.Bucket(), testclock.Now().Add(-time.Hour).Format(time.RFC3339Nano), testclock.Now().Format(time.RFC3339Nano), measurement)
	res, err := c.Query(ctx, flux)
	require.NoError(t, err)
	defer res.Close()
	var n int64
	for res.Next() {
		v, ok := res.Record().Value().(int64)
		require.True(t, ok, "value %T", res.Record().Value())
		n += v
	}
	require.NoError(t, res.Err())
	return n
}

func TestRealInfluxDB(t *testing.T) {
	s := influxtest.Start(t)
	h := newHarness(t, s.URL, func(c *Config) {
		c.Token, c.Org, c.Bucket = s.Token, s.Org, s.Bucket
		c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := testclock.Now().Add(-10 * time.Minute).Truncate(time.Minute).UnixNano()
	line := func(store, fields string, offset int64) string {
		return fmt.Sprintf("sp_orders,store=%s,ingester=it %s %d", store, fields, base+offset)
	}

	require.NoError(t, h.c.Ready(ctx))

	t.Run("write then query reads back", func(t *testing.T) {
		lines := []string{
			line("s1", "gmv=10.5,orders=1", 1),
			line("s1", "gmv=2,orders=1", 2),
			line("s2", "gmv=7.25,orders=3", 1),
		}
		require.NoError(t, h.c.Write(ctx, lines))
		require.Equal(t, map[string]float64{"s1": 12.5, "s2": 7.25}, sumByStore(ctx, t, h.c, "sp_orders", "gmv"))
		require.Equal(t, map[string]float64{"s1": 2, "s2": 3}, sumByStore(ctx, t, h.c, "sp_orders", "orders"))
	})

	t.Run("rewriting the same points does not double them", func(t *testing.T) {
		require.NoError(t, h.c.Write(ctx, []string{line("s1", "gmv=10.5,orders=1", 1)}))
		require.Equal(t, map[string]float64{"s1": 12.5, "s2": 7.25}, sumByStore(ctx, t, h.c, "sp_orders", "gmv"))
	})

	t.Run("invalid batches are dead-lettered", func(t *testing.T) {
		tests := []struct {
			name       string
			lines      []string
			wantReason string
		}{
			{"field type conflict", []string{line("s3", `gmv="text"`, 5)}, "field type conflict"},
			{"unparsable", []string{"sp_orders,store=s4 gmv= nonsense"}, "unable to parse"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.NoError(t, h.c.Write(ctx, tt.lines))
				recs := readDeadLetters(t, h.dir)
				require.Len(t, recs, i+1)
				require.Equal(t, 400, recs[i].Status)
				require.Contains(t, recs[i].Reason, tt.wantReason)
				require.Equal(t, tt.lines, recs[i].Lines)
				t.Logf("InfluxDB 1.8 reason: %s", recs[i].Reason)
			})
		}
		require.InDelta(t, 2, value(t, h.m.DeadLetteredLines), 0)
	})

	// Issue #11 item 1: client A's 1,000 good points share a batch with client
	// B's two lines that give one field two types. InfluxDB 1.8 refuses the
	// whole batch; only B's refused line may be set aside.
	t.Run("one client's conflicting line never dead-letters other clients' lines", func(t *testing.T) {
		before := len(readDeadLetters(t, h.dir))
		batch := func(n int, offset int64, extra ...string) []string {
			var lines []string
			for i := range n {
				lines = append(lines, fmt.Sprintf("clienta,src=a v=%di %d", i, base+offset+int64(i)))
			}
			return append(lines, extra...)
		}
		within := fmt.Sprintf("clientb v=1.5 %d", base+1)
		lines := batch(1000, 0, fmt.Sprintf("clientb v=1i %d", base), within)
		require.NoError(t, h.c.Write(ctx, lines))

		// Then a conflict with what is already stored (B's integer), in a
		// batch with 1,000 more of A's points: InfluxDB writes part of it.
		stored := fmt.Sprintf("clientb v=2.5 %d", base+2)
		require.NoError(t, h.c.Write(ctx, batch(1000, 1000, stored)))

		recs := readDeadLetters(t, h.dir)[before:]
		var dead []string
		for _, r := range recs {
			require.Equal(t, 400, r.Status)
			require.Contains(t, r.Reason, "field type conflict")
			dead = append(dead, r.Lines...)
		}
		require.ElementsMatch(t, []string{within, stored}, dead, "exactly the refused lines, so a replay writes nothing twice")
		require.Equal(t, int64(2000), countPoints(ctx, t, h.c, "clienta"))
		require.Equal(t, int64(1), countPoints(ctx, t, h.c, "clientb"))
	})

	s.Stop()

	t.Run("ready fails downstream while stopped", func(t *testing.T) {
		err := h.c.Ready(ctx)
		var e *Error
		require.ErrorAs(t, err, &e)
		require.True(t, e.Downstream)
		require.Equal(t, 0, e.StatusCode)
	})

	t.Run("write blocks while stopped and succeeds after restart", func(t *testing.T) {
		networkBefore := value(t, h.m.WriteErrors.WithLabelValues(ClassNetwork))
		done := make(chan error, 1)
		go func() { done <- h.c.Write(ctx, []string{line("s5", "gmv=42,orders=1", 1)}) }()

		select {
		case err := <-done:
			t.Fatalf("Write returned while InfluxDB was down: %v", err)
		case <-time.After(700 * time.Millisecond):
		}
		require.Greater(t, value(t, h.m.WriteErrors.WithLabelValues(ClassNetwork)), networkBefore+1)

		require.NoError(t, s.Restart())
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("Write did not finish after restart")
		}
		require.NoError(t, h.c.Ready(ctx))
		require.Equal(t, map[string]float64{"s1": 12.5, "s2": 7.25, "s5": 42}, sumByStore(ctx, t, h.c, "sp_orders", "gmv"))
		require.Contains(t, h.logs.String(), "InfluxDB writes recovered")
	})
}
