package engine

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
)

// countingSource counts the reads reaching it; reads wait for gate when set.
type countingSource struct {
	*memSource
	sums    atomic.Int64
	started chan struct{}
	gate    chan struct{}
}

func (s *countingSource) Sums(ctx context.Context, spec SumSpec) ([]SumRow, error) {
	s.sums.Add(1)
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.memSource.Sums(ctx, spec)
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCachingSource(t *testing.T) {
	pts := []memPoint{point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldGMV, "tmall", 100)}
	spec := func(stores ...string) SumSpec {
		return SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Every: time.Hour,
			Terms: []Term{{schema.MeasOrders, schema.FieldGMV}}, Filters: map[string][]string{"store": stores}}
	}
	clock := &testClock{t: utc("2026-11-20T03:00:00Z")}
	src := &countingSource{memSource: &memSource{points: pts}, started: make(chan struct{}, 10), gate: make(chan struct{})}
	c := NewCachingSource(src, 10*time.Second, clock.now)
	ctx := context.Background()

	// Two concurrent identical reads (filter values in another order): one read reaches the source.
	var wg sync.WaitGroup
	results := make([][]SumRow, 2)
	for i, s := range [][]string{{"tmall", "jd"}, {"jd", "tmall"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, err := c.Sums(ctx, spec(s...))
			require.NoError(t, err)
			results[i] = rows
		}()
	}
	<-src.started
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, f := range c.calls {
			return f.waiters == 2
		}
		return false
	}, 5*time.Second, time.Millisecond, "the second read joins the first")
	close(src.gate)
	wg.Wait()
	require.EqualValues(t, 1, src.sums.Load())
	require.Len(t, results[0], 1)
	require.Equal(t, results[0], results[1])
	require.Equal(t, 100.0, results[1][0].Value)

	// Within the TTL: from memory. Another filter: its own read.
	clock.add(9 * time.Second)
	_, err := c.Sums(ctx, spec("tmall", "jd"))
	require.NoError(t, err)
	require.EqualValues(t, 1, src.sums.Load())
	_, err = c.Sums(ctx, spec("tmall"))
	require.NoError(t, err)
	require.EqualValues(t, 2, src.sums.Load())

	// The TTL expired: read again.
	clock.add(2 * time.Second)
	_, err = c.Sums(ctx, spec("jd", "tmall"))
	require.NoError(t, err)
	require.EqualValues(t, 3, src.sums.Load())
}

func TestCachingSourceCancelAndErrors(t *testing.T) {
	clock := &testClock{t: utc("2026-11-20T03:00:00Z")}
	src := &countingSource{memSource: &memSource{}, started: make(chan struct{}, 10), gate: make(chan struct{})}
	c := NewCachingSource(src, time.Minute, clock.now)
	spec := SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"), Terms: []Term{{schema.MeasOrders, schema.FieldGMV}}}

	// The only caller leaves: the read is cancelled, nothing is cached.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := c.Sums(ctx, spec)
		errc <- err
	}()
	<-src.started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.calls) == 0
	}, 5*time.Second, time.Millisecond)
	n, _ := c.Len()
	require.Equal(t, 0, n, "errors are not cached")

	// A later caller starts afresh and succeeds.
	close(src.gate)
	_, err := c.Sums(context.Background(), spec)
	require.NoError(t, err)
	require.EqualValues(t, 2, src.sums.Load())
	n, _ = c.Len()
	require.Equal(t, 1, n)
}

func TestCachingSourceBounds(t *testing.T) {
	clock := &testClock{t: utc("2026-11-20T03:00:00Z")}
	var pts []memPoint
	for i := range 10 {
		pts = append(pts, point("2026-11-20T02:00:00Z", schema.MeasOrders, schema.FieldGMV, string(rune('a'+i)), 1))
	}
	src := &countingSource{memSource: &memSource{points: pts}}
	c := NewCachingSource(src, time.Minute, clock.now)
	c.maxEntries, c.maxBytes = 3, 4*96*10
	read := func(store string, groupBy ...string) {
		_, err := c.Sums(context.Background(), SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"),
			Terms: []Term{{schema.MeasOrders, schema.FieldGMV}}, Filters: map[string][]string{"store": {store}}, GroupBy: groupBy})
		require.NoError(t, err)
	}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		read(s)
	}
	n, bytes := c.Len()
	require.Equal(t, 3, n, "at most maxEntries")
	require.Equal(t, 3*96, bytes)
	before := src.sums.Load()
	read("e")
	require.Equal(t, before, src.sums.Load(), "the newest read is kept")

	// 10 rows of 112 bytes exceed a quarter of maxBytes: shared, not kept.
	c2 := NewCachingSource(src, time.Minute, clock.now)
	c2.maxBytes = 4 * 1000
	for range 2 {
		_, err := c2.Sums(context.Background(), SumSpec{Start: utc("2026-11-19T16:00:00Z"), Stop: utc("2026-11-20T16:00:00Z"),
			Terms: []Term{{schema.MeasOrders, schema.FieldGMV}}, GroupBy: []string{"store"}})
		require.NoError(t, err)
	}
	n, _ = c2.Len()
	require.Zero(t, n)
	require.Equal(t, before+2, src.sums.Load())
}

// TestCachedSketchesMergedPerWindow: the cache keeps one sketch per window,
// kind and group, and distinct counts computed from it are exactly those
// computed from every stored sketch.
func TestCachedSketchesMergedPerWindow(t *testing.T) {
	day := utc("2026-11-23T16:00:00Z")
	to := day.Add(17 * time.Hour)
	mem := &memSource{sketches: wallSketches(day)}
	sh := loc(t, "Asia/Shanghai")
	direct := &Engine{Catalog: kpi.Default(), Source: mem, Location: sh, SeriesLimit: 5000, Now: func() time.Time { return to }}
	cache := NewCachingSource(mem, time.Hour, nil)
	cached := &Engine{Catalog: kpi.Default(), Source: cache, Location: sh, SeriesLimit: 5000, Now: func() time.Time { return to }}
	for _, js := range []string{
		`{"kpi":"active_users","interval":"day","compare":"1w"}`,
		`{"kpi":"active_users","interval":"1h","compare":"1w"}`,
		`{"kpi":"active_users","interval":"3h","groupBy":["store"]}`,
		`{"kpi":"active_users","interval":"day","groupBy":["channel"],"filters":{"store":["s01","s02"]}}`,
		`{"kpi":"conversion_rate","interval":"1h"}`,
	} {
		t.Run(js, func(t *testing.T) {
			q, err := models.ParseQuery(json.RawMessage(js))
			require.NoError(t, err)
			req := Request{Query: q, From: day, To: to, Interval: time.Hour, MaxDataPoints: 300}
			want, err := direct.Run(context.Background(), req)
			require.NoError(t, err)
			for range 2 { // filling the cache, then from it
				got, err := cached.Run(context.Background(), req)
				require.NoError(t, err)
				require.Equal(t, want.Series, got.Series)
			}
		})
	}
	// The hourly read of a day holds one merged sketch per hour and kind.
	var rows int
	require.NoError(t, cache.Sketches(context.Background(), SketchSpec{Start: day, Stop: to, Kinds: []string{schema.KindActive}, Window: schema.WindowHour},
		func(SketchRow) error { rows++; return nil }))
	require.Equal(t, 17, rows)
}

func TestMergeSketchRows(t *testing.T) {
	at := utc("2026-11-23T16:00:00Z")
	for _, rows := range [][]SketchRow{
		{{Time: at, Kind: "active", Sketch: "AAAA"}, {Time: at, Kind: "active", Sketch: "not base64!"}},
		{{Time: at, Kind: "active", Sketch: "not base64!"}},
	} {
		_, err := mergeSketchRows(rows)
		require.Error(t, err, "refused as the engine refuses it")
	}
	enc := func(ids ...int) string {
		sk := hyperloglog.New14()
		for _, id := range ids {
			sk.InsertHash(xxhash.Sum64String(strconv.Itoa(id)))
		}
		s, err := sketch.Encode(sk)
		require.NoError(t, err)
		return s
	}
	lone, a, b := enc(1, 2, 3), enc(1, 2), enc(2, 3, 4, 5)
	rows, err := mergeSketchRows([]SketchRow{
		{Time: at, Kind: "active", Groups: []string{"s1"}, Sketch: lone},
		{Time: at, Kind: "active", Groups: []string{"s2"}, Sketch: a},
		{Time: at.Add(time.Hour), Kind: "active", Groups: []string{"s1"}, Sketch: lone},
		{Time: at, Kind: "active", Groups: []string{"s2"}, Sketch: b},
	})
	require.NoError(t, err)
	require.Len(t, rows, 3, "one row per time, kind and group, in first-seen order")
	require.Equal(t, lone, rows[0].Sketch, "a lone sketch is kept as stored")
	require.EqualValues(t, 3, rows[0].Estimate)
	require.EqualValues(t, 5, rows[1].Estimate, "s2 merged: 1..5")
	require.Equal(t, []string{"s2"}, rows[1].Groups)
	require.True(t, at.Add(time.Hour).Equal(rows[2].Time))
}
