package storagesuite_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	dsql "github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/ingest/calendarstore"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/influx"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
	"github.com/storepulse/storepulse/internal/testclock"
)

// countingSketches counts the stored sketches a rollup found in InfluxDB.
type countingSketches struct {
	rollup.SketchSource
	requested, found int
}

func (c *countingSketches) Load(ctx context.Context, keys []rollup.SketchKey) (map[rollup.SketchKey]*hyperloglog.Sketch, error) {
	m, err := c.SketchSource.Load(ctx, keys)
	c.requested += len(keys)
	c.found += len(m)
	return m, err
}

// runID names this run's stores and ingester: fixed on the fresh local
// InfluxDB, random on a named target so that runs never see each other.
func runID(t *testing.T, tg influxtest.Target) string {
	t.Helper()
	if tg.Local {
		return "local"
	}
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// genEvents makes n orders, payments and refunds of stores over [from, to),
// from a fixed seed.
func genEvents(n int, stores []string, from, to time.Time) []event.Event {
	rng := mrand.New(mrand.NewPCG(20261203, 12)) //nolint:gosec // test data
	types := []event.Type{event.TypeOrder, event.TypeOrder, event.TypeOrder, event.TypeOrder, event.TypePayment, event.TypePayment, event.TypeRefund}
	span := to.Sub(from).Nanoseconds()
	out := make([]event.Event, n)
	for i := range out {
		e := event.Event{
			Type:    types[rng.IntN(len(types))],
			ID:      "e" + strconv.Itoa(i),
			Time:    from.UnixNano() + rng.Int64N(span),
			Store:   stores[rng.IntN(len(stores))],
			Channel: []string{"app", "web"}[rng.IntN(2)],
			User:    "u" + strconv.Itoa(rng.IntN(40)),
			Amount:  float64(1+rng.IntN(99999)) / 100,
		}
		switch e.Type {
		case event.TypeOrder:
			e.Category = []string{"shoes", "tv"}[rng.IntN(2)]
			e.Items = float64(1 + rng.IntN(3))
			e.Customer = []event.Customer{event.CustomerNew, event.CustomerReturning}[rng.IntN(2)]
		case event.TypeRefund:
			e.Reason = []string{"damaged", "late"}[rng.IntN(2)]
		default:
		}
		out[i] = e
	}
	return out
}

// expected is what the raw events say, computed without StorePulse's code.
type expected struct {
	daily   map[string]map[string]float64 // "store|day" -> field -> sum
	hourly  map[int64]float64             // hour start (unix ns) -> gmv, all stores
	buyers  map[string]int                // "store|day" -> distinct users with an order
	days    []time.Time
	byField map[string]string // field -> measurement
}

func expect(events []event.Event, days []time.Time, loc *time.Location) expected {
	x := expected{daily: map[string]map[string]float64{}, hourly: map[int64]float64{}, buyers: map[string]int{}, days: days,
		byField: map[string]string{schema.FieldGMV: schema.MeasOrders, schema.FieldOrders: schema.MeasOrders,
			schema.FieldPaidAmount: schema.MeasPayments, schema.FieldRefundAmount: schema.MeasRefunds}}
	users := map[string]map[string]bool{}
	for _, e := range events {
		day := localday.Floor(time.Unix(0, e.Time), loc).Format("2006-01-02")
		k := e.Store + "|" + day
		if x.daily[k] == nil {
			x.daily[k] = map[string]float64{}
		}
		switch e.Type {
		case event.TypeOrder:
			x.daily[k][schema.FieldGMV] += e.Amount
			x.daily[k][schema.FieldOrders]++
			x.hourly[time.Unix(0, e.Time).Truncate(time.Hour).UnixNano()] += e.Amount
			if users[k] == nil {
				users[k] = map[string]bool{}
			}
			users[k][e.User] = true
		case event.TypePayment:
			x.daily[k][schema.FieldPaidAmount] += e.Amount
		case event.TypeRefund:
			x.daily[k][schema.FieldRefundAmount] += e.Amount
		default:
		}
	}
	for k, u := range users {
		x.buyers[k] = len(u)
	}
	return x
}

func near(t *testing.T, want, got float64, msg ...any) {
	t.Helper()
	require.InDelta(t, want, got, 1e-9*math.Max(1, math.Abs(want)), msg...)
}

func readDeadLetters(t *testing.T, dir string) []influx.DeadLetterRecord {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	var recs []influx.DeadLetterRecord
	for _, name := range files {
		f, err := os.Open(name) //nolint:gosec // the test's own temp dir
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var r influx.DeadLetterRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
			recs = append(recs, r)
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	return recs
}

// TestStorageSuite runs the storage path against influxtest.OpenTarget: a
// fresh local InfluxDB 1.8, or the InfluxDB named by STOREPULSE_TARGET_*.
func TestStorageSuite(t *testing.T) {
	tg := influxtest.OpenTarget(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := runID(t, tg)
	loc, err := time.LoadLocation("Europe/Berlin") // DST days when testclock is moved onto one
	require.NoError(t, err)
	// The local day of the tests' clock and the day before: a DST day when
	// `make test-dates` moves the clock onto one.
	day1 := localday.Floor(testclock.Now(), loc)
	day0 := localday.AddDays(day1, -1, loc)
	day2 := localday.Next(day1, loc)
	stores := []string{"sps-" + run + "-a", "sps-" + run + "-b"}
	ingester := "sps-" + run
	t.Logf("run %s: stores %v, local days %s and %s (%s)", run, stores, day0.Format(time.DateOnly), day1.Format(time.DateOnly), loc)

	events := genEvents(400, stores, day0, day2)
	want := expect(events, []time.Time{day0, day1}, loc)

	// The ingest's InfluxDB client: the writes, the dead-letter file, readiness.
	deadDir := t.TempDir()
	ic, err := influx.New(influx.Config{URL: tg.URL, Token: tg.Token, Org: tg.Org, Bucket: tg.Database,
		Timeout: 30 * time.Second, DeadLetterDir: deadDir}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(ic.Close)
	require.NoError(t, ic.Ready(ctx), "the ingest's readiness check (/health)")
	db, rp, err := influxql.SplitBucket(tg.Database)
	require.NoError(t, err)
	ql := &influxql.Client{URL: tg.URL, Token: tg.Token, Database: db, RetentionPolicy: rp, Timeout: time.Minute}
	require.NoError(t, ql.Ping(ctx))

	// Two segments of the same hours and days, each rolled up by a fresh
	// rollup (as after a restart): the second must reload the first one's
	// sketches from InfluxDB with InfluxQL and merge into them.
	var segs [2][]event.Event
	for i, e := range events {
		segs[i%2] = append(segs[i%2], e)
	}
	var reload *countingSketches
	for i, evs := range segs {
		src := &countingSketches{SketchSource: rollup.NewInfluxQLSketches(ql, ingester)}
		r, err := rollup.New(rollup.Options{Ingester: ingester, Location: loc, Sketches: src})
		require.NoError(t, err)
		seg := r.NewSegment(uint64(i + 1))
		seg.Add(&event.Batch{Events: evs})
		lines, err := r.Lines(ctx, seg)
		require.NoError(t, err)
		require.NotEmpty(t, lines)
		require.NoError(t, ic.Write(ctx, lines))
		reload = src
	}
	require.Positive(t, reload.found, "the second rollup reloaded stored sketches (%d asked)", reload.requested)
	for _, r := range readDeadLetters(t, deadDir) {
		require.Failf(t, "InfluxDB refused rolled-up lines", "HTTP %d: %s (%d lines, e.g. %q)", r.Status, r.Reason, len(r.Lines), r.Lines[0])
	}

	src, err := dsql.New(tg.URL, tg.Token, tg.Database, nil)
	require.NoError(t, err)
	filter := map[string][]string{schema.TagStore: stores}

	t.Run("daily sums per store", func(t *testing.T) {
		var terms []engine.Term
		for _, f := range []string{schema.FieldGMV, schema.FieldOrders, schema.FieldPaidAmount, schema.FieldRefundAmount} {
			terms = append(terms, engine.Term{Measurement: want.byField[f], Field: f})
		}
		compared := 0
		for _, d := range want.days {
			rows, err := src.Sums(ctx, engine.SumSpec{Start: d, Stop: localday.Next(d, loc), Terms: terms, Filters: filter,
				GroupBy: []string{schema.TagStore}})
			require.NoError(t, err)
			got := map[string]float64{}
			for _, r := range rows {
				got[r.Groups[0]+"|"+r.Term.Field] += r.Value
			}
			for _, s := range stores {
				for _, term := range terms {
					near(t, want.daily[s+"|"+d.Format("2006-01-02")][term.Field], got[s+"|"+term.Field], "%s %s %s", s, d, term.Field)
					compared++
				}
			}
		}
		require.Equal(t, 16, compared)
	})

	t.Run("hourly GMV", func(t *testing.T) {
		rows, err := src.Sums(ctx, engine.SumSpec{Start: day0, Stop: day2, Every: time.Hour,
			Terms: []engine.Term{{Measurement: schema.MeasOrders, Field: schema.FieldGMV}}, Filters: filter})
		require.NoError(t, err)
		got := map[int64]float64{}
		for _, r := range rows {
			got[r.Time.UnixNano()] += r.Value
		}
		require.Len(t, got, len(want.hourly), "one window per hour with orders (fill(none))")
		for h, v := range want.hourly {
			near(t, v, got[h], "hour %s", time.Unix(0, h).UTC())
		}
	})

	t.Run("distinct buyers from merged sketches", func(t *testing.T) {
		for _, window := range []string{schema.WindowDay, schema.WindowHour} {
			rows := map[string]*sketch.Union{}
			require.NoError(t, src.Sketches(ctx, engine.SketchSpec{Start: day0, Stop: day2, Kinds: []string{schema.KindBuyer},
				Window: window, Filters: filter, GroupBy: []string{schema.TagStore}}, func(r engine.SketchRow) error {
				k := r.Groups[0] + "|" + localday.Floor(r.Time, loc).Format("2006-01-02")
				if rows[k] == nil {
					rows[k] = &sketch.Union{}
				}
				return rows[k].AddEncoded(r.Sketch)
			}))
			require.Len(t, rows, len(want.buyers), window)
			for k, n := range want.buyers {
				require.NotNil(t, rows[k], "%s %s", window, k)
				// Sparse HyperLogLog sketches count a few dozen ids exactly.
				require.Equal(t, uint64(n), rows[k].Estimate(), "%s %s", window, k)
			}
		}
	})

	t.Run("engine KPIs by store and day", func(t *testing.T) {
		eng := &engine.Engine{Catalog: kpi.Default(), Source: src, Location: loc, SeriesLimit: 500,
			Now: func() time.Time { return day2.Add(time.Hour) }}
		for _, id := range []string{"gmv", "aov", "buyers"} {
			res, err := eng.Run(ctx, engine.Request{Query: models.Query{KPI: id, Interval: models.IntervalDay,
				Filters: filter, GroupBy: []string{schema.TagStore}}, From: day0, To: day2, MaxDataPoints: 100})
			require.NoError(t, err, id)
			require.Len(t, res.Times, 2, id)
			seen := 0
			for _, s := range res.Series {
				if s.Role != engine.RoleCurrent {
					continue
				}
				for i, at := range res.Times {
					k := s.Groups[0] + "|" + at.In(loc).Format("2006-01-02")
					var w float64
					switch id {
					case "gmv":
						w = want.daily[k][schema.FieldGMV]
					case "aov": // a ratio of sums
						w = want.daily[k][schema.FieldGMV] / want.daily[k][schema.FieldOrders]
					case "buyers":
						w = float64(want.buyers[k])
					}
					require.NotNil(t, s.Values[i], "%s %s", id, k)
					near(t, w, *s.Values[i], "%s %s", id, k)
					seen++
				}
			}
			require.Equal(t, 4, seen, id)
		}
	})

	t.Run("calendar store and datasource read campaigns and targets", func(t *testing.T) {
		cs := calendarstore.NewInfluxQL(ic, ql, tg.Database, loc)
		camps := []calendar.Campaign{
			{ID: "sps-" + run + "-c1", Name: "Suite sale", Kind: "weekly", Stores: stores, Phases: []calendar.Phase{
				{Name: calendar.PhaseWarmUp, Start: day0.UTC(), End: day0.Add(6 * time.Hour).UTC()},
				{Name: calendar.PhasePeak, Start: day0.Add(6 * time.Hour).UTC(), End: day1.UTC()}}},
			{ID: "sps-" + run + "-c2", Name: "Suite flash", Kind: "flash", Stores: stores[:1], Phases: []calendar.Phase{
				{Name: calendar.PhaseActivity, Start: day1.Add(10 * time.Hour).UTC(), End: day1.Add(12 * time.Hour).UTC()}}},
		}
		require.NoError(t, cs.PutCampaigns(ctx, camps))
		ours := func(cs []calendar.Campaign) []calendar.Campaign {
			var out []calendar.Campaign
			for _, c := range cs {
				if strings.HasPrefix(c.ID, "sps-"+run+"-") {
					for i := range c.Phases {
						c.Phases[i].Start, c.Phases[i].End = c.Phases[i].Start.UTC(), c.Phases[i].End.UTC()
					}
					out = append(out, c)
				}
			}
			slices.SortFunc(out, func(a, b calendar.Campaign) int { return strings.Compare(a.ID, b.ID) })
			return out
		}
		got, err := cs.Campaigns(ctx)
		require.NoError(t, err)
		require.Equal(t, camps, ours(got))
		found, err := cs.DeleteCampaign(ctx, camps[1].ID)
		require.NoError(t, err)
		require.True(t, found)
		got, err = cs.Campaigns(ctx)
		require.NoError(t, err)
		require.Equal(t, camps[:1], ours(got), "a deleted campaign is gone")
		got, err = src.Campaigns(ctx)
		require.NoError(t, err)
		require.Equal(t, camps[:1], ours(got), "the datasource reads the same calendar")

		targets := []calendar.Target{
			{KPI: "gmv", Store: stores[0], Period: calendar.PeriodDay, Start: day0.Format("2006-01-02"), Value: 1234.5},
			{KPI: "gmv", Store: stores[1], Period: calendar.PeriodDay, Start: day1.Format("2006-01-02"), Value: 99},
		}
		require.NoError(t, cs.PutTargets(ctx, targets))
		gotT, err := cs.Targets(ctx, calendarstore.TargetFilter{KPI: "gmv", Store: stores[0]})
		require.NoError(t, err)
		require.Equal(t, targets[:1], gotT)
		rows, err := src.Targets(ctx, engine.TargetSpec{Start: day0, Stop: day2, KPI: "gmv", Period: calendar.PeriodDay, Stores: stores})
		require.NoError(t, err)
		slices.SortFunc(rows, func(a, b engine.TargetRow) int { return strings.Compare(a.Store, b.Store) })
		require.Len(t, rows, 2)
		for i, r := range rows {
			require.Equal(t, targets[i].Store, r.Store)
			require.InDelta(t, targets[i].Value, r.Value, 0)
			require.True(t, r.Time.Equal([]time.Time{day0, day1}[i]), "target %d starts at its local day: %s", i, r.Time)
		}
	})

	t.Run("a conflicting field type goes to the dead-letter file with the reason", func(t *testing.T) {
		// One table for every run: its field v is an integer once and for
		// all; a string v is refused (on 1.8 within the shard, on 2.x per
		// shard too, on 3.x for ever).
		before := len(readDeadLetters(t, deadDir))
		at := day0.UnixNano()
		good := fmt.Sprintf("sp_suite_typecheck,run=%s v=1i %d", run, at)
		bad := fmt.Sprintf(`sp_suite_typecheck,run=%s v="text" %d`, run, at+1)
		require.NoError(t, ic.Write(ctx, []string{good}))
		require.Len(t, readDeadLetters(t, deadDir), before, "the integer line is accepted")
		require.NoError(t, ic.Write(ctx, []string{good, bad}), "a refused line is set aside, not an error")
		recs := readDeadLetters(t, deadDir)[before:]
		require.Len(t, recs, 1)
		require.Equal(t, []string{bad}, recs[0].Lines, "only the refused line")
		require.GreaterOrEqual(t, recs[0].Status, 400)
		require.Less(t, recs[0].Status, 500)
		require.NotEmpty(t, recs[0].Reason)
		require.NotContains(t, recs[0].Reason, "Unexpected status code", "InfluxDB's own reason, not the client library's placeholder")
		if tg.Token != "" {
			require.NotContains(t, recs[0].Reason, tg.Token)
		}
		t.Logf("InfluxDB %s's reason: %s", tg.Version, recs[0].Reason)
	})
}
