package consolidate_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/consolidate"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// The tests run against a real InfluxDB 1.8. Each case uses its own
// ingester ids, so cases share one server without seeing each other's data.
// Times are fixed (never the wall clock): the store zone is Europe/Berlin
// and the history crosses the spring DST change (29 March 2026, a 23-hour
// local day).

var (
	berlin = mustZone("Europe/Berlin")
	now0   = time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC)
	from0  = time.Date(2026, 3, 25, 9, 30, 0, 0, time.UTC)
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// checked are the (measurement, field) pairs compared with the raw events.
var checked = [][2]string{
	{schema.MeasOrders, schema.FieldOrders}, {schema.MeasOrders, schema.FieldGMV},
	{schema.MeasRefunds, schema.FieldRefunds}, {schema.MeasRefunds, schema.FieldRefundAmount},
	{schema.MeasIngest, schema.FieldEvents},
}

// genEvents makes orders and refunds of two stores over [from, to), with
// whole amounts (exact float sums in any order).
func genEvents(seed uint64, prefix string, from, to time.Time) []event.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []event.Event
	for t := from; t.Before(to); t = t.Add(time.Duration(5+rng.IntN(40)) * time.Minute) {
		e := event.Event{Type: event.TypeOrder, ID: fmt.Sprintf("%s-%d", prefix, len(out)), Time: t.UnixNano(),
			Store: []string{"tmall", "jd"}[rng.IntN(2)], Channel: []string{"app", "web", ""}[rng.IntN(3)],
			User: fmt.Sprintf("u%d", rng.IntN(50)), Amount: float64(1 + rng.IntN(500)), Items: 1}
		if rng.IntN(5) == 0 {
			e.Type, e.Reason = event.TypeRefund, "damaged"
		}
		out = append(out, e)
	}
	return out
}

// lateOrders are n orders of store, of amount each, the i-th (id prefix-i)
// at from0 + i·every + offset.
func lateOrders(prefix string, n int, every, offset time.Duration, store string, amount float64) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{Type: event.TypeOrder, ID: fmt.Sprintf("%s-%d", prefix, i), Time: from0.Add(time.Duration(i)*every + offset).UnixNano(),
			Store: store, Channel: "app", User: "u2", Amount: amount, Items: 1}
	}
	return out
}

// value is what event e adds to (measurement, field).
func value(e event.Event, mf [2]string) float64 {
	switch {
	case mf[0] == schema.MeasIngest:
		return 1
	case e.Type == event.TypeOrder && mf == [2]string{schema.MeasOrders, schema.FieldOrders},
		e.Type == event.TypeRefund && mf == [2]string{schema.MeasRefunds, schema.FieldRefunds}:
		return 1
	case e.Type == event.TypeOrder && mf == [2]string{schema.MeasOrders, schema.FieldGMV},
		e.Type == event.TypeRefund && mf == [2]string{schema.MeasRefunds, schema.FieldRefundAmount}:
		return e.Amount
	}
	return 0
}

type env struct {
	t   *testing.T
	db  *influxtest.Server
	ql  *influxql.Client
	ctx context.Context
}

func newEnv(t *testing.T) *env {
	db := influxtest.Start(t)
	return &env{t: t, db: db, ctx: context.Background(),
		ql: &influxql.Client{URL: db.URL, Token: db.Token, Database: influxtest.Database, Timeout: time.Minute}}
}

type writer struct{ db *influxtest.Server }

// slowQuerier answers like q, but a query spanning more than max times out,
// as InfluxDB does past influx.timeout when a read holds too many points.
type slowQuerier struct {
	q        consolidate.Querier
	max      time.Duration
	timeouts int
	reads    int
}

var spanRE = regexp.MustCompile(`time >= '([^']+)' AND time < '([^']+)'`)

func (s *slowQuerier) Query(ctx context.Context, q string, o influxql.Options, fn func(int, *influxql.Series) error) error {
	if m := spanRE.FindStringSubmatch(q); m != nil {
		from, err1 := time.Parse(time.RFC3339Nano, m[1])
		to, err2 := time.Parse(time.RFC3339Nano, m[2])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		s.reads++
		if to.Sub(from) > s.max {
			s.timeouts++
			return fmt.Errorf("reading InfluxDB's answer: %w", context.DeadlineExceeded)
		}
	}
	return s.q.Query(ctx, q, o, fn)
}

func (w writer) Write(ctx context.Context, lines []string) error { return w.db.Write(ctx, lines) }

// flush rolls up events as segment seg of ingester ing and writes its
// minute points and sketches (as the pipeline does); it returns the hours
// the segment wrote.
func (e *env) flush(ing string, seg uint64, evs []event.Event) map[int64][]string {
	r, err := rollup.New(rollup.Options{Ingester: ing, Location: berlin, Sketches: rollup.NewInfluxQLSketches(e.ql, ing)})
	require.NoError(e.t, err)
	s := r.NewSegment(seg)
	s.Add(&event.Batch{Events: evs})
	lines, err := r.Lines(e.ctx, s)
	require.NoError(e.t, err)
	e.db.WriteLines(e.t, lines)
	return s.HourStores()
}

// clockAt is an adjustable clock.
type clockAt struct{ t time.Time }

func (c *clockAt) now() time.Time { return c.t }

func (e *env) consolidator(ing string, clk *clockAt, fault func(string) error) *consolidate.Consolidator {
	c, err := consolidate.New(consolidate.Options{Ingester: ing, Location: berlin, Fine: e.ql, Main: e.ql,
		Write: writer{e.db}, FineBucket: influxtest.Bucket, Now: clk.now, Fault: fault})
	require.NoError(e.t, err)
	return c
}

// tickAll consolidates every closed hour.
func tickAll(t *testing.T, c *consolidate.Consolidator) {
	for range 1000 {
		more, err := c.Tick(context.Background(), time.Minute)
		require.NoError(t, err)
		if !more {
			return
		}
	}
	t.Fatal("consolidation never caught up")
}

// marks reads an ingester's stored watermarks.
func (e *env) marks(ing string) (hours, days time.Time) {
	hours, days, _ = e.allMarks(ing)
	return hours, days
}

// allMarks reads an ingester's stored watermarks and where its store totals
// start.
func (e *env) allMarks(ing string) (hours, days, storeFrom time.Time) {
	q := fmt.Sprintf(`SELECT hours_until, days_until, store_from FROM sp_rollup WHERE ingester = '%s'`, ing)
	found := false
	require.NoError(e.t, e.ql.Query(e.ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		at := func(row []any, col string) time.Time {
			n, err := row[s.Column(col)].(interface{ Int64() (int64, error) }).Int64()
			require.NoError(e.t, err, col)
			return time.Unix(0, n).UTC()
		}
		for _, row := range s.Values {
			hours, days, storeFrom, found = at(row, "hours_until"), at(row, "days_until"), at(row, "store_from"), true
		}
		return nil
	}))
	require.True(e.t, found, "no watermark recorded for %s", ing)
	return hours, days, storeFrom
}

// sketchFrom reads where an ingester's store-level sketches start.
func (e *env) sketchFrom(ing string) time.Time {
	q := fmt.Sprintf(`SELECT sketch_store_from FROM sp_rollup WHERE ingester = '%s'`, ing)
	var out *time.Time
	require.NoError(e.t, e.ql.Query(e.ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		for _, row := range s.Values {
			n, err := row[s.Column("sketch_store_from")].(interface{ Int64() (int64, error) }).Int64()
			require.NoError(e.t, err)
			t := time.Unix(0, n).UTC()
			out = &t
		}
		return nil
	}))
	require.NotNil(e.t, out, "no sketch_store_from recorded for %s", ing)
	return *out
}

// storeSums reads sum(field) of ing's points of meas per store and UTC hour
// over [from, to).
func (e *env) storeSums(meas, field, ing string, from, to time.Time) map[string]float64 {
	out := map[string]float64{}
	if !from.Before(to) {
		return out
	}
	q := fmt.Sprintf(`SELECT sum(%q) FROM %q WHERE ingester = '%s' AND time >= %s AND time < %s GROUP BY time(1h), store fill(none)`,
		field, meas, ing, influxql.Time(from), influxql.Time(to))
	require.NoError(e.t, e.ql.Query(e.ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		for _, row := range s.Values {
			t, err := influxql.TimeOf(row[0])
			require.NoError(e.t, err)
			v, ok, err := influxql.Float(row[1])
			require.NoError(e.t, err)
			if ok {
				out[s.Tags["store"]+" "+t.UTC().Format(time.RFC3339)] += v
			}
		}
		return nil
	}))
	return out
}

// sums reads sum(field) of ing's points of meas per UTC hour over [from, to).
func (e *env) sums(meas, field, ing string, from, to time.Time) map[time.Time]float64 {
	out := map[time.Time]float64{}
	if !from.Before(to) {
		return out
	}
	q := fmt.Sprintf(`SELECT sum(%q) FROM %q WHERE ingester = '%s' AND time >= %s AND time < %s GROUP BY time(1h) fill(none)`,
		field, meas, ing, influxql.Time(from), influxql.Time(to))
	require.NoError(e.t, e.ql.Query(e.ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
		for _, row := range s.Values {
			t, err := influxql.TimeOf(row[0])
			require.NoError(e.t, err)
			v, ok, err := influxql.Float(row[1])
			require.NoError(e.t, err)
			if ok {
				out[t] += v
			}
		}
		return nil
	}))
	return out
}

func total(m map[time.Time]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

// requireExact checks what ing stored against its raw events: every hour
// below the hours watermark and every local day below the days watermark
// hold exactly their events' sums (one point per series and window), and
// reading days below the days watermark, hours up to the hours watermark
// and minutes above it gives the total once. The store totals hold each
// store's sums of every hour and local day from store_from on.
func (e *env) requireExact(ing string, evs []event.Event) {
	e.t.Helper()
	hw, dw, sf := e.allMarks(ing)
	sfDay := localday.Floor(sf, berlin)
	if sfDay.Before(sf) {
		sfDay = localday.Next(sf, berlin)
	}
	start, end := localday.Floor(from0.AddDate(0, -1, 0), berlin), now0.Add(24*time.Hour)
	for _, mf := range checked {
		wantHour, wantDay := map[time.Time]float64{}, map[time.Time]float64{}
		wantStoreHour, wantStoreDay := map[string]float64{}, map[string]float64{}
		want := 0.0
		for _, ev := range evs {
			v := value(ev, mf)
			if v == 0 {
				continue
			}
			t := time.Unix(0, ev.Time).UTC()
			want += v
			if t.Before(hw) {
				wantHour[t.Truncate(time.Hour)] += v
				if !t.Before(sf) {
					wantStoreHour[ev.Store+" "+t.Truncate(time.Hour).Format(time.RFC3339)] += v
				}
			}
			if t.Before(dw) {
				day := localday.Floor(t, berlin).UTC()
				wantDay[day] += v
				if !day.Before(sfDay) {
					wantStoreDay[ev.Store+" "+day.Format(time.RFC3339)] += v
				}
			}
		}
		require.Equal(e.t, wantHour, e.sums(schema.Hourly(mf[0]), mf[1], ing, start, hw), "%s hourly %s.%s", ing, mf[0], mf[1])
		require.Equal(e.t, wantDay, e.sums(schema.Daily(mf[0]), mf[1], ing, start, dw), "%s daily %s.%s", ing, mf[0], mf[1])
		require.Equal(e.t, wantStoreHour, e.storeSums(mf[0]+schema.SuffixHourStore, mf[1], ing, sf, hw), "%s hourly store totals %s.%s", ing, mf[0], mf[1])
		require.Equal(e.t, wantStoreDay, e.storeSums(mf[0]+schema.SuffixDayStore, mf[1], ing, sfDay, dw), "%s daily store totals %s.%s", ing, mf[0], mf[1])
		got := total(e.sums(schema.Daily(mf[0]), mf[1], ing, start, dw)) +
			total(e.sums(schema.Hourly(mf[0]), mf[1], ing, dw, hw)) +
			total(e.sums(mf[0], mf[1], ing, hw, end))
		require.Equal(e.t, want, got, "%s: %s.%s read across resolutions (days < %s, hours < %s, minutes after)", ing, mf[0], mf[1], dw, hw)
	}
	// One point per series and window.
	for _, m := range []string{schema.Hourly(schema.MeasOrders), schema.Daily(schema.MeasOrders),
		schema.MeasOrders + schema.SuffixHourStore, schema.MeasOrders + schema.SuffixDayStore} {
		q := fmt.Sprintf(`SELECT count(orders) FROM %q WHERE ingester = '%s' AND time >= %s AND time < %s GROUP BY time(1h), * fill(none)`,
			m, ing, influxql.Time(start), influxql.Time(end))
		require.NoError(e.t, e.ql.Query(e.ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
			for _, row := range s.Values {
				n, _, err := influxql.Float(row[1])
				require.NoError(e.t, err)
				require.EqualValues(e.t, 1, n, "%s %v at %v: one point per series and window", m, s.Tags, row[0])
			}
			return nil
		}))
	}
}

// history writes ing's events one local day per segment.
func (e *env) history(ing string, evs []event.Event) {
	seg := uint64(1)
	for len(evs) > 0 {
		day := localday.Floor(time.Unix(0, evs[0].Time), berlin)
		n := 1
		for n < len(evs) && localday.Floor(time.Unix(0, evs[n].Time), berlin).Equal(day) {
			n++
		}
		e.flush(ing, seg, evs[:n])
		seg++
		evs = evs[n:]
	}
}

func TestConsolidation(t *testing.T) {
	e := newEnv(t)
	clk := &clockAt{now0}

	t.Run("two ingesters each consolidate their own series", func(t *testing.T) {
		a := genEvents(1, "a", from0, now0)
		b := genEvents(2, "b", from0.Add(17*time.Minute), now0)
		e.history("a", a)
		e.history("b", b)
		ca, cb := e.consolidator("a", clk, nil), e.consolidator("b", clk, nil)
		tickAll(t, ca)
		tickAll(t, cb)
		hw, dw := e.marks("a")
		require.Equal(t, time.Date(2026, 4, 20, 11, 0, 0, 0, time.UTC), hw, "hours up to the last closed hour")
		require.Equal(t, localday.Floor(hw, berlin).UTC(), dw, "days up to the last whole local day")
		e.requireExact("a", a)
		e.requireExact("b", b)
		// The 23-hour DST day is one daily point per series, holding its 23 hours.
		dst := localday.Start(2026, 3, 29, berlin)
		got := e.sums(schema.Daily(schema.MeasOrders), schema.FieldOrders, "a", dst, localday.Next(dst, berlin))
		require.Len(t, got, 1)
		want := 0.0
		for _, ev := range a {
			if ev.Type == event.TypeOrder && !time.Unix(0, ev.Time).Before(dst) && time.Unix(0, ev.Time).Before(localday.Next(dst, berlin)) {
				want++
			}
		}
		require.Equal(t, want, got[dst.UTC()])
		require.Equal(t, 23*time.Hour, localday.Next(dst, berlin).Sub(dst))

		// An hour later, one more hour is consolidated; nothing else changes.
		clk.t = now0.Add(time.Hour)
		tickAll(t, ca)
		hw2, _ := e.marks("a")
		require.Equal(t, hw.Add(time.Hour), hw2)
		e.requireExact("a", a)
		clk.t = now0
	})

	t.Run("an ingester that consolidated before store totals existed writes them from its next hour on", func(t *testing.T) {
		evs := genEvents(9, "upgrade", from0, now0)
		e.history("upgrade", evs)
		earlier := &clockAt{now0.Add(-5*24*time.Hour - 3*time.Hour)}
		tickAll(t, e.consolidator("upgrade", earlier, nil))
		hw, dw := e.marks("upgrade")
		// What the version before store totals left: no store totals and a
		// watermark without store_from.
		for _, m := range []string{"sp_rollup", schema.MeasOrders + schema.SuffixHourStore, schema.MeasOrders + schema.SuffixDayStore,
			schema.MeasRefunds + schema.SuffixHourStore, schema.MeasRefunds + schema.SuffixDayStore,
			schema.MeasIngest + schema.SuffixHourStore, schema.MeasIngest + schema.SuffixDayStore} {
			require.NoError(t, e.ql.Query(e.ctx, fmt.Sprintf(`DELETE FROM %q WHERE ingester = 'upgrade'`, m), influxql.Options{},
				func(int, *influxql.Series) error { return nil }))
		}
		e.db.WriteLines(t, []string{fmt.Sprintf(`sp_rollup,ingester=upgrade days_until=%di,fine_bucket=%q,hours_until=%di %d`,
			dw.UnixNano(), influxtest.Bucket, hw.UnixNano(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())})

		tickAll(t, e.consolidator("upgrade", clk, nil))
		_, _, sf := e.allMarks("upgrade")
		require.Equal(t, hw, sf, "store totals start at the hours watermark the upgrade found")
		e.requireExact("upgrade", evs)
		before := e.storeSums(schema.MeasOrders+schema.SuffixHourStore, schema.FieldOrders, "upgrade", from0, sf)
		require.Empty(t, before, "no store totals before store_from")
	})

	t.Run("where the store-level sketches start", func(t *testing.T) {
		// load: Load (the flusher, before its first flush), then the Ticks
		// that record it.
		load := func(ing string, at time.Time) time.Time {
			t.Helper()
			c := e.consolidator(ing, &clockAt{at}, nil)
			require.NoError(t, c.Load(e.ctx))
			tickAll(t, c)
			return e.sketchFrom(ing)
		}
		// latestNext is the first local day after the latest sketch evs wrote
		// (an hourly sketch at the last event's hour).
		latestNext := func(evs []event.Event) time.Time {
			last := time.Unix(0, evs[len(evs)-1].Time).Truncate(time.Hour)
			return localday.Next(last, berlin).UTC()
		}
		oldMark := func(ing string) {
			hw, dw := now0.Add(-48*time.Hour), localday.Floor(now0.Add(-48*time.Hour), berlin)
			e.db.WriteLines(t, []string{fmt.Sprintf(`sp_rollup,ingester=%s days_until=%di,fine_bucket=%q,hours_until=%di,store_from=0i %d`,
				ing, dw.UnixNano(), influxtest.Bucket, hw.UnixNano(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())})
		}

		require.Equal(t, time.Unix(0, 0).UTC(), load("sk-new", now0), "a new ingester: from its first sketch on")
		e.history("sk-new", genEvents(21, "sk-new", now0.Add(-72*time.Hour), now0))
		require.Equal(t, time.Unix(0, 0).UTC(), load("sk-new", now0.Add(24*time.Hour)), "recorded once, kept")

		evs := genEvents(22, "sk-up", from0, now0.Add(-30*time.Hour))
		e.history("sk-up", evs)
		oldMark("sk-up")
		require.Equal(t, latestNext(evs), load("sk-up", now0), "an upgrade: the day after its latest sketch")
		_, _, sf := e.allMarks("sk-up")
		require.Equal(t, time.Unix(0, 0).UTC(), sf, "store_from kept")

		evs = genEvents(23, "sk-pre", from0, now0.Add(-50*time.Hour))
		e.history("sk-pre", evs)
		require.Equal(t, latestNext(evs), load("sk-pre", now0), "an ingester from before consolidation: the same")

		evs = genEvents(25, "sk-tick", from0, now0.Add(-20*time.Hour))
		e.history("sk-tick", evs)
		tickAll(t, e.consolidator("sk-tick", clk, nil))
		require.Equal(t, latestNext(evs), e.sketchFrom("sk-tick"), "without Load, the first Tick decides the same way")

		e.history("sk-idle", genEvents(24, "sk-idle", from0, from0.Add(48*time.Hour)))
		oldMark("sk-idle")
		require.Equal(t, localday.Next(now0.Add(-8*24*time.Hour), berlin).UTC(), load("sk-idle", now0),
			"sketches older than the lookback: the day after its start")
	})

	t.Run("a refund 20 days late updates every resolution", func(t *testing.T) {
		evs := genEvents(3, "late", from0, now0)
		e.history("late", evs)
		c := e.consolidator("late", clk, nil)
		tickAll(t, c)
		e.requireExact("late", evs)
		refund := event.Event{Type: event.TypeRefund, ID: "late-refund", Time: now0.Add(-20*24*time.Hour + 7*time.Minute).UnixNano(),
			Store: "tmall", Channel: "app", Reason: "damaged", Amount: 321}
		before := e.sums(schema.Daily(schema.MeasRefunds), schema.FieldRefundAmount, "late", from0.AddDate(0, -1, 0), now0)
		c.Written(e.flush("late", 900, []event.Event{refund}))
		require.NoError(t, c.Settle(context.Background()))
		evs = append(evs, refund)
		e.requireExact("late", evs)
		after := e.sums(schema.Daily(schema.MeasRefunds), schema.FieldRefundAmount, "late", from0.AddDate(0, -1, 0), now0)
		day := localday.Floor(time.Unix(0, refund.Time), berlin).UTC()
		require.Equal(t, before[day]+321, after[day], "the refund's local day")
	})

	t.Run("late hours deferred to disk are consolidated again after a restart", func(t *testing.T) {
		evs := genEvents(8, "defer", from0, now0)
		e.history("defer", evs)
		state := filepath.Join(t.TempDir(), "late-hours.json")
		newC := func() *consolidate.Consolidator {
			c, err := consolidate.New(consolidate.Options{Ingester: "defer", Location: berlin, Fine: e.ql, Main: e.ql,
				Write: writer{e.db}, FineBucket: influxtest.Bucket, Now: clk.now, StateFile: state})
			require.NoError(t, err)
			return c
		}
		c := newC()
		tickAll(t, c)
		late := lateOrders("defer-late", 3, 26*time.Hour, 11*time.Minute, "jd", 40)
		c.Written(e.flush("defer", 904, late))
		require.True(t, c.Pending())
		require.NoError(t, c.Defer())
		require.FileExists(t, state)
		// The segment leaves the spool now; the process dies before Settle.
		c = newC()
		require.True(t, c.Pending(), "the deferred hours are read back")
		require.NoError(t, c.Settle(context.Background()))
		require.False(t, c.Pending())
		require.NoFileExists(t, state, "settled hours are forgotten")
		e.requireExact("defer", append(evs, late...))

		// A damaged file is moved aside, loudly; the consolidator still starts.
		require.NoError(t, os.WriteFile(state, []byte(`{"version":1,"ingester":"defer","late":{"jd":[{"from":1,"to":`), 0o600))
		c = newC()
		require.False(t, c.Pending())
		require.NoFileExists(t, state)
		require.FileExists(t, state+".damaged")
		// Another ingester's file is not taken as this one's.
		require.NoError(t, os.WriteFile(state, []byte(`{"version":1,"ingester":"other","late":{}}`), 0o600))
		c = newC()
		require.False(t, c.Pending())
		require.FileExists(t, state+".damaged")
	})

	t.Run("late events on many days are consolidated again in runs of days", func(t *testing.T) {
		evs := genEvents(6, "many", from0, now0)
		e.history("many", evs)
		c := e.consolidator("many", clk, nil)
		tickAll(t, c)
		// every second day over 24 days, some hours apart: runs longer than a week
		late := lateOrders("many-late", 12, 49*time.Hour, 3*time.Minute, "tmall", 7)
		c.Written(e.flush("many", 902, late))
		require.NoError(t, c.Settle(context.Background()))
		e.requireExact("many", append(evs, late...))
	})

	t.Run("a read that times out is read again in halves, down to what InfluxDB answers", func(t *testing.T) {
		evs := genEvents(7, "slow", from0, now0)
		e.history("slow", evs)
		slow := &slowQuerier{q: e.ql, max: 5 * time.Hour}
		c, err := consolidate.New(consolidate.Options{Ingester: "slow", Location: berlin, Fine: slow, Main: slow,
			Write: writer{e.db}, FineBucket: influxtest.Bucket, Now: clk.now})
		require.NoError(t, err)
		tickAll(t, c)
		e.requireExact("slow", evs)
		require.Positive(t, slow.timeouts, "the 24-hour reads timed out")
		// Halving every read again from its full span timed out 366 times in
		// 785 reads here; the span that answered is remembered instead (30
		// in 450).
		t.Logf("%d timeouts in %d reads", slow.timeouts, slow.reads)
		require.Less(t, slow.timeouts, 40, "later reads start at the span that answered")
		var late []event.Event
		for i := range 6 {
			late = append(late, event.Event{Type: event.TypeRefund, ID: fmt.Sprintf("slow-late-%d", i), Reason: "damaged",
				Time: from0.Add(time.Duration(i)*31*time.Hour + 5*time.Minute).UnixNano(), Store: "jd", Channel: "web", Amount: 11})
		}
		before := slow.timeouts
		c.Written(e.flush("slow", 903, late))
		require.NoError(t, c.Settle(context.Background()))
		require.LessOrEqual(t, slow.timeouts, before+1, "the late hours' reads start at the span that answered")
		e.requireExact("slow", append(evs, late...))
	})

	t.Run("a late event consolidates again only its own store's series", func(t *testing.T) {
		evs := genEvents(5, "only", from0, now0)
		e.history("only", evs)
		c := e.consolidator("only", clk, nil)
		tickAll(t, c)
		e.requireExact("only", evs)
		var j event.Event
		for _, ev := range evs {
			if ev.Store == "jd" && ev.Type == event.TypeOrder && time.Unix(0, ev.Time).Before(now0.Add(-72*time.Hour)) {
				j = ev
			}
		}
		require.NotEmpty(t, j.ID)
		hour := time.Unix(0, j.Time).UTC().Truncate(time.Hour)
		day := localday.Floor(hour, berlin).UTC()
		storeSum := func(meas, store string, at time.Time) float64 {
			q := fmt.Sprintf(`SELECT sum("orders") FROM %q WHERE ingester = 'only' AND store = '%s' AND time = %s`, meas, store, influxql.Time(at))
			got := 0.0
			require.NoError(t, e.ql.Query(e.ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error {
				for _, row := range s.Values {
					v, _, err := influxql.Float(row[1])
					require.NoError(t, err)
					got += v
				}
				return nil
			}))
			return got
		}
		require.Positive(t, storeSum(schema.Hourly(schema.MeasOrders), "jd", hour))
		// Remove jd's consolidated hour and day: consolidating them again
		// from jd's minutes would bring them back.
		for _, m := range []string{schema.Hourly(schema.MeasOrders), schema.Daily(schema.MeasOrders)} {
			require.NoError(t, e.ql.Query(e.ctx, fmt.Sprintf(`DELETE FROM %q WHERE ingester = 'only' AND store = 'jd'`, m), influxql.Options{}, func(int, *influxql.Series) error { return nil }))
		}
		require.Zero(t, storeSum(schema.Hourly(schema.MeasOrders), "jd", hour))
		tmallHour, tmallDay := storeSum(schema.Hourly(schema.MeasOrders), "tmall", hour), storeSum(schema.Daily(schema.MeasOrders), "tmall", day)

		late := event.Event{Type: event.TypeOrder, ID: "only-late", Time: hour.Add(59 * time.Minute).UnixNano(),
			Store: "tmall", Channel: "web", User: "u1", Amount: 5, Items: 1}
		written := e.flush("only", 901, []event.Event{late})
		require.Equal(t, map[int64][]string{hour.UnixNano(): {"tmall"}}, written, "the segment reports its hour and store")
		c.Written(written)
		require.NoError(t, c.Settle(context.Background()))
		require.Equal(t, tmallHour+1, storeSum(schema.Hourly(schema.MeasOrders), "tmall", hour), "the late order's hour")
		require.Equal(t, tmallDay+1, storeSum(schema.Daily(schema.MeasOrders), "tmall", day), "the late order's local day")
		require.Zero(t, storeSum(schema.Hourly(schema.MeasOrders), "jd", hour), "jd's hour was not consolidated again")
		require.Zero(t, storeSum(schema.Daily(schema.MeasOrders), "jd", day), "jd's day was not consolidated again")
	})

	t.Run("a crash at any step of consolidation, then a restart, gives exact totals", func(t *testing.T) {
		steps := []string{"hours", "days", "watermark", "late-hours", "late-days"}
		for i, step := range steps {
			ing := "crash-" + step
			evs := genEvents(uint64(10+i), ing, from0, now0)
			e.history(ing, evs)
			crashed := false
			fault := func(s string) error {
				if s == step && !crashed {
					crashed = true
					return errors.New("killed at " + s)
				}
				return nil
			}
			c := e.consolidator(ing, clk, fault)
			late := event.Event{Type: event.TypeOrder, ID: ing + "-late", Time: now0.Add(-20*24*time.Hour + 3*time.Minute).UnixNano(),
				Store: "jd", Amount: 77}
			var err error
			if strings.HasPrefix(step, "late") {
				tickAll(t, c)
				c.Written(e.flush(ing, 900, []event.Event{late}))
				err = c.Settle(context.Background())
			} else {
				_, err = c.Tick(context.Background(), time.Minute)
			}
			require.ErrorContains(t, err, "killed at "+step)
			if !strings.HasPrefix(step, "late") {
				// Mid-consolidation, readers splitting at the stored
				// watermarks still count everything once.
				e.requireExact(ing, evs)
			}
			// Restart: a new consolidator; the spool replays the segment
			// not yet settled (same points, same hours).
			c = e.consolidator(ing, clk, nil)
			if strings.HasPrefix(step, "late") {
				c.Written(e.flush(ing, 900, []event.Event{late}))
				require.NoError(t, c.Settle(context.Background()))
				evs = append(evs, late)
			}
			tickAll(t, c)
			e.requireExact(ing, evs)
		}
	})

	t.Run("distinct-count sketches are left as the rollup merged them", func(t *testing.T) {
		q := `SELECT sketch FROM sp_distinct WHERE ingester = 'a' GROUP BY *`
		read := func() []string {
			var out []string
			require.NoError(t, e.ql.Query(context.Background(), q, influxql.Options{ChunkSize: 500}, func(_ int, s *influxql.Series) error {
				for _, row := range s.Values {
					out = append(out, fmt.Sprint(s.Tags, row))
				}
				return nil
			}))
			slices.Sort(out)
			return out
		}
		before := read()
		require.NotEmpty(t, before)
		clk.t = now0.Add(30 * time.Hour)
		tickAll(t, e.consolidator("a", clk, nil))
		clk.t = now0
		require.Equal(t, before, read(), "consolidation never writes sketches")
	})
}
