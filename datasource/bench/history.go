package bench

// The history benchmark (issue "One storage path…", part 4): many stores over
// a long history, the same data stored two ways in one InfluxDB 1.8, and four
// screens requested side by side in one run, interleaved:
//
//	(flux-minutes)  today's engine: the plugin in Flux over the minute series
//	                only, as main read them before the consolidated series
//	                existed (a database with no watermark, so the plugin
//	                reads minutes);
//	(raw-influxql)  hand-written InfluxQL over the consolidated series (their
//	                store totals: every raw query is a total or by store), what
//	                a user of Grafana's InfluxDB datasource would write against
//	                the new schema (not for the wall screen: its distinct
//	                counts, bands and forecasts have no raw equivalent);
//	(influxql)      the new path: the plugin in InfluxQL over the
//	                consolidated hourly and local-day series, minutes only
//	                after the watermark.
//
// The consolidated database is written the way the ingest writes it: the
// rolled-up lines but the minute ones, then ingest/consolidate's hourly and
// daily series and watermark, with the minute series in their own database
// (the ingest's fine_bucket).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/ingest/consolidate"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/simload"
)

// HistoryOptions size the history benchmark.
type HistoryOptions struct {
	PluginBinary string
	Dashboard    string // the wall screen
	Stores       int
	// Days of the long history and of the short one (0: no short one), both
	// ending at End: the wall screen at both tells whether it grows with
	// history.
	Days, ShortDays int
	Scale           float64 // the simulator's traffic scale
	Seed            uint64
	End             time.Time // the screens' now (and the data's end)
	Iterations      int       // measured rounds; each round runs every screen on every side
	DataDir         string    // keeps the loaded InfluxDB ("" = a temporary directory)
	IndexVersion    string    // InfluxDB's series index: "inmem" (1.8's default) or "tsi1"
	// FineDays > 0: the new path reads its minutes from a database of its
	// own holding only the last FineDays days of them, as an ingest with
	// influx.fine_bucket and a fine_retention of FineDays days leaves it
	// (0: from the minutes database that today's engine reads, every day).
	FineDays int
	Out, Log io.Writer
}

// History sides.
const (
	sideFlux = iota
	sideRaw
	sideNew
	numHistorySides
)

var historySideNames = [numHistorySides]string{"today's engine (Flux over minutes)", "raw InfluxQL over the consolidated series", "new path (InfluxQL, consolidated)"}

// historySet is one loaded data set: its two databases and what loading it cost.
type historySet struct {
	Days        int     `json:"days"`
	Stores      int     `json:"stores"`
	Scale       float64 `json:"scale"`
	Seed        uint64  `json:"seed"`
	End         time.Time
	Events      int   `json:"events"`
	MinuteLines int64 `json:"minuteLines"`
	SketchLines int64 `json:"sketchLines"`
	// StoreSketches: of SketchLines, the store-level ones.
	StoreSketches int64   `json:"storeSketchLines"`
	OtherLines    int64   `json:"otherLines"`        // calendar, targets, freshness
	Consolidated  int64   `json:"consolidatedLines"` // watermark lines included
	StoreTotals   int64   `json:"storeTotalLines"`   // of Consolidated
	Parts         int     `json:"parts"`
	LoadSeconds   float64 `json:"loadSeconds"`
	ConsSeconds   float64 `json:"consolidateSeconds"`
	MinutesDB     string  `json:"minutesDB"`
	MainDB        string  `json:"mainDB"`
	// FineDB holds the minutes of the last FineDays days ("" : none, the
	// new path reads MinutesDB); FineLines counts them.
	FineDB    string `json:"fineDB,omitempty"`
	FineDays  int    `json:"fineDays,omitempty"`
	FineLines int64  `json:"fineLines,omitempty"`
}

// fineBucket is where the new path reads minutes.
func (h *historySet) fineBucket() string {
	if h.FineDB != "" {
		return h.FineDB + "/autogen"
	}
	return h.MinutesDB + "/autogen"
}

func (h *historySet) manifestPath(dir string) string {
	return filepath.Join(dir, fmt.Sprintf("storepulse-bench-history-%dd.json", h.Days))
}

// RunHistory loads (or reuses) the data sets and prints the report.
func RunHistory(ctx context.Context, o HistoryOptions) error {
	loc, err := time.LoadLocation(TimeZone)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	dir, srv, cleanup, err := startInflux(o.DataDir, "storepulse-bench-history-", o.IndexVersion)
	if err != nil {
		return err
	}
	defer cleanup()
	// The data sets load at once (their own databases).
	var sets []*historySet
	var wg sync.WaitGroup
	var errs []error
	var mu sync.Mutex
	for _, days := range []int{o.Days, o.ShortDays} {
		if days <= 0 {
			continue
		}
		sets = append(sets, nil)
		i := len(sets) - 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := ensureHistory(ctx, srv, dir, o, days, loc)
			mu.Lock()
			defer mu.Unlock()
			sets[i] = h
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	idle := waitIdle(ctx, srv.PID(), compactAfter+15*time.Second, o.Log)

	if os.Getenv("GF_PLUGIN_MEMORY_MB") == "" {
		// Flux over a year of minutes is estimated at gigabytes; the point
		// is to time it, not to refuse it.
		_ = os.Setenv("GF_PLUGIN_MEMORY_MB", "16384")
	}
	plugin, err := StartPlugin(ctx, o.PluginBinary, o.End, io.Discard)
	if err != nil {
		return err
	}
	defer plugin.Stop()

	var screens []*historyScreen
	for _, h := range sets {
		ss, err := historyScreens(h, o, loc)
		if err != nil {
			return err
		}
		screens = append(screens, ss...)
	}
	hb := &historyBench{srv: srv, plugin: plugin, loc: loc}
	checks := hb.check(ctx, screens)
	res := hb.measure(ctx, screens, o)
	alone := hb.measureAlone(ctx, screens, o)
	reportHistory(o.Out, o, sets, screens, checks, res, idle, dir)
	reportAlone(o.Out, o, screens, alone)
	return nil
}

// ensureHistory loads a data set of days unless the directory holds it.
func ensureHistory(ctx context.Context, srv *influxtest.Server, dir string, o HistoryOptions, days int, loc *time.Location) (*historySet, error) {
	h := &historySet{Days: days, Stores: o.Stores, Scale: o.Scale, Seed: o.Seed, End: o.End,
		MinutesDB: fmt.Sprintf("sp%d_minutes", days), MainDB: fmt.Sprintf("sp%d", days)}
	if o.FineDays > 0 {
		h.FineDB, h.FineDays = fmt.Sprintf("sp%d_fine", days), o.FineDays
	}
	if b, err := os.ReadFile(h.manifestPath(dir)); err == nil { // #nosec G304 -- the benchmark's own data directory
		var m historySet
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", h.manifestPath(dir), err)
		}
		if m.Stores != h.Stores || m.Scale != h.Scale || m.Seed != h.Seed || !m.End.Equal(h.End) || m.FineDays != h.FineDays {
			return nil, fmt.Errorf("bench: %s holds another data set (%d stores, scale %v, seed %d, end %s, fine days %d): remove the directory or pick another",
				dir, m.Stores, m.Scale, m.Seed, m.End, m.FineDays)
		}
		fmt.Fprintf(o.Log, "reusing the %d-day data set in %s\n", days, dir)
		return &m, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bench: %w", err)
	}
	for _, db := range []string{h.MinutesDB, h.MainDB, h.FineDB} {
		if db == "" {
			continue
		}
		// A load that did not finish left no manifest: start afresh.
		if err := dbStatement(ctx, srv.URL, "DROP DATABASE "+influxql.Ident(db)); err != nil {
			return nil, err
		}
		if err := dbStatement(ctx, srv.URL, "CREATE DATABASE "+influxql.Ident(db)); err != nil {
			return nil, err
		}
	}
	minutes, main, fineDB := *srv, *srv, *srv
	minutes.Bucket, main.Bucket, fineDB.Bucket = h.MinutesDB+"/autogen", h.MainDB+"/autogen", h.fineBucket()
	// What a fine_retention of FineDays days keeps at the screens' now.
	fineFrom := h.End.Add(-time.Duration(h.FineDays) * 24 * time.Hour).UnixNano()
	var minuteLines, sketchLines, storeSketchLines, otherLines, fineLines atomic.Int64
	var day atomic.Int64
	started := time.Now()
	write := func(ctx context.Context, ls []string) error {
		coarse := make([]string, 0, len(ls)/4)
		var fine []string
		for _, l := range ls {
			switch {
			case schema.IsFineLine(l):
				minuteLines.Add(1)
				if h.FineDB != "" && lineTime(l) >= fineFrom {
					fine = append(fine, l)
				}
			case strings.HasPrefix(l, schema.MeasDistinct+","):
				sketchLines.Add(1)
				coarse = append(coarse, l)
			case strings.HasPrefix(l, schema.MeasDistinctStore+","):
				sketchLines.Add(1)
				storeSketchLines.Add(1)
				coarse = append(coarse, l)
			default:
				otherLines.Add(1)
				coarse = append(coarse, l)
			}
		}
		// Everything into the minutes database (today's engine reads it all),
		// all but the minutes into the consolidated one, the last FineDays
		// days of minutes into the fine one; four writers, as
		// InfluxDB takes concurrent batches faster than one stream.
		const writers = 4
		var wg sync.WaitGroup
		errs := make([]error, writers+2)
		per := (len(ls) + writers - 1) / writers
		for w := range writers {
			lo, hi := min(w*per, len(ls)), min((w+1)*per, len(ls))
			wg.Add(1)
			go func() { defer wg.Done(); errs[w] = minutes.Write(ctx, ls[lo:hi]) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[writers] = main.Write(ctx, coarse) }()
		if len(fine) > 0 {
			fineLines.Add(int64(len(fine)))
			wg.Add(1)
			go func() { defer wg.Done(); errs[writers+1] = fineDB.Write(ctx, fine) }()
		}
		wg.Wait()
		if n := day.Add(1); n%20 == 0 {
			fmt.Fprintf(o.Log, "%d-day set: loaded %d days, %d minute lines, %.0f s\n", days, n, minuteLines.Load(), time.Since(started).Seconds())
		}
		return errors.Join(errs...)
	}
	start := localday.AddDays(localday.Floor(h.End, loc), -days, loc)
	fmt.Fprintf(o.Log, "loading %d stores × %d days (scale %v, %s .. %s)\n", o.Stores, days, o.Scale,
		start.In(loc).Format(time.DateTime), h.End.In(loc).Format(time.DateTime))
	// Long histories load in parts of at most 100 days at once, each under
	// its own ingester name (as several ingest instances write), and each
	// part is consolidated by its own consolidator: loading is a pipeline
	// that leaves InfluxDB idle between its writes.
	var parts [][2]time.Time
	for from := start; from.Before(h.End); {
		to := localday.AddDays(from, 100, loc)
		if !to.Before(h.End) || localday.AddDays(to, 20, loc).After(h.End) {
			to = h.End
		}
		parts = append(parts, [2]time.Time{from, to})
		from = to
	}
	fine := &influxql.Client{URL: srv.URL, Token: srv.Token, Database: h.MinutesDB, Timeout: 10 * time.Minute}
	mainQL := &influxql.Client{URL: srv.URL, Token: srv.Token, Database: h.MainDB, Timeout: 10 * time.Minute}
	cw := &countingWriter{w: &main}
	var events atomic.Int64
	var loadNanos, consNanos atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(parts))
	for i, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ingester := fmt.Sprintf("simload-%d", i)
			// It reads every minute (they were all there when it ran), and
			// records where the new path finds them.
			c, err := consolidate.New(consolidate.Options{Ingester: ingester, Location: loc, Fine: fine, Main: mainQL, Write: cw,
				FineBucket: fineDB.Bucket, Now: func() time.Time { return h.End }, MaxHours: 24 * 7})
			if err == nil {
				// As the ingest's flusher: before anything is written, so
				// the store-level sketches count from the first sketch on.
				err = c.Load(ctx)
			}
			if err != nil {
				errs[i] = fmt.Errorf("bench: %w", err)
				return
			}
			began := time.Now()
			res, err := simload.Load(ctx, simload.Target{URL: srv.URL, Token: srv.Token, Org: srv.Org, Bucket: minutes.Bucket, Write: write, Ingester: ingester},
				sim.Config{Seed: o.Seed, NumStores: o.Stores, Start: part[0], End: part[1], Location: loc, Scale: o.Scale})
			if err != nil {
				errs[i] = fmt.Errorf("bench: load: %w", err)
				return
			}
			events.Add(int64(res.Events))
			loadNanos.Store(max(loadNanos.Load(), int64(time.Since(started))))
			fmt.Fprintf(o.Log, "%d-day set, part %d: %d events loaded in %.0f s; consolidating\n", days, i, res.Events, time.Since(began).Seconds())
			began = time.Now()
			for more := true; more; {
				if more, err = c.Tick(ctx, time.Minute); err != nil {
					errs[i] = fmt.Errorf("bench: consolidate: %w", err)
					return
				}
				hours, _, _ := c.Watermarks()
				fmt.Fprintf(o.Log, "%d-day set, part %d: consolidated up to %s, %.0f s\n", days, i, time.Unix(0, hours).In(loc).Format(time.DateTime), time.Since(began).Seconds())
			}
			consNanos.Store(max(consNanos.Load(), int64(time.Since(began))))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h.Events, h.MinuteLines, h.SketchLines, h.OtherLines = int(events.Load()), minuteLines.Load(), sketchLines.Load(), otherLines.Load()
	h.StoreSketches, h.FineLines = storeSketchLines.Load(), fineLines.Load()
	h.LoadSeconds, h.ConsSeconds = time.Duration(loadNanos.Load()).Seconds(), time.Duration(consNanos.Load()).Seconds()
	h.Parts = len(parts)
	h.Consolidated, h.StoreTotals = cw.n.Load(), cw.stores.Load()
	b, _ := json.MarshalIndent(h, "", "  ")
	if err := os.WriteFile(h.manifestPath(dir), b, 0o600); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return h, nil
}

// lineTime is a line's timestamp (ns), -1 without one.
func lineTime(l string) int64 {
	i := strings.LastIndexByte(l, ' ')
	if i < 0 {
		return -1
	}
	t, err := strconv.ParseInt(l[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return t
}

// countingWriter counts the lines written through it, and those of store
// totals apart.
type countingWriter struct {
	w interface {
		Write(ctx context.Context, lines []string) error
	}
	n, stores atomic.Int64
}

func (c *countingWriter) Write(ctx context.Context, lines []string) error {
	c.n.Add(int64(len(lines)))
	for _, l := range lines {
		if end := strings.IndexAny(l, ", "); end > 0 && (strings.HasSuffix(l[:end], schema.SuffixHourStore) || strings.HasSuffix(l[:end], schema.SuffixDayStore)) {
			c.stores.Add(1)
		}
	}
	return c.w.Write(ctx, lines)
}

func dbStatement(ctx context.Context, base, stmt string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/query", strings.NewReader(url.Values{"q": {stmt}}.Encode()))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", stmt, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"error"`) {
		return fmt.Errorf("bench: %s: %s %s", stmt, resp.Status, b)
	}
	return nil
}

// historyScreen is one screen of one data set: the plugin's requests (the
// same on both plugin sides but for the datasource) and, where written, the
// raw InfluxQL of the same numbers.
type historyScreen struct {
	Name   string
	Set    *historySet
	Panels []Panel // requested at once, as Grafana requests a dashboard
	// Raw is the hand-written InfluxQL: statements sent as one request per
	// round trip ("" = none); RawTotal reads the grand total from its answer.
	Raw      []string
	RawTotal func(answers [][]*influxql.Series) (float64, error)
	// Total is which of the plugin's numbers equal RawTotal: the sum of the
	// values of RefID "A".
	Cached bool // also measured again right after, cached
}

// monthStart is the first instant of t's local month.
func monthStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return localday.Floor(time.Date(l.Year(), l.Month(), 1, 12, 0, 0, 0, loc), loc)
}

func kpiQuery(ref string, from, to time.Time, model string) backend.DataQuery {
	return backend.DataQuery{RefID: ref, QueryType: "kpi", MaxDataPoints: 1000, Interval: time.Hour,
		TimeRange: backend.TimeRange{From: from, To: to}, JSON: json.RawMessage(model)}
}

func historyScreens(h *historySet, o HistoryOptions, loc *time.Location) ([]*historyScreen, error) {
	var out []*historyScreen
	wall, err := LoadScreen(o.Dashboard, h.End, h.MinutesDB+"/autogen")
	if err != nil {
		return nil, err
	}
	out = append(out, &historyScreen{Name: fmt.Sprintf("wall screen, %d days", h.Days), Set: h, Panels: wall.Panels, Cached: true})
	if h.Days < 365 {
		return out, nil
	}
	today := localday.Floor(h.End, loc)
	// Every raw query here is a total or by store: it reads the store totals.
	orders1d, orders1h := influxql.Ident(schema.MeasOrders+schema.SuffixDayStore), influxql.Ident(schema.MeasOrders+schema.SuffixHourStore)
	gmv := influxql.Ident(schema.FieldGMV)
	sumTotal := func(answers [][]*influxql.Series) (float64, error) {
		t := 0.0
		for _, a := range answers {
			for _, s := range a {
				c := s.Column("sum")
				for _, row := range s.Values {
					v, ok, err := influxql.Float(row[c])
					if err != nil {
						return 0, err
					}
					if ok {
						t += v
					}
				}
			}
		}
		return t, nil
	}

	// The last 12 whole months by month (calendar buckets are whole: a range
	// ending inside a month would read that month to now), and the last
	// month's change against the month before by store (contribution).
	thisMonth := monthStart(today, loc)
	yearFrom := monthStart(thisMonth.AddDate(0, -12, 0).Add(36*time.Hour), loc)
	lastMonth := monthStart(thisMonth.Add(-time.Hour), loc)
	var stmts []string
	for m := yearFrom; m.Before(thisMonth); {
		next := monthStart(m.AddDate(0, 1, 0).Add(36*time.Hour), loc)
		stmts = append(stmts, fmt.Sprintf("SELECT sum(%s) FROM %s WHERE time >= %s AND time < %s", gmv, orders1d, influxql.Time(m), influxql.Time(next)))
		m = next
	}
	prevMonth := monthStart(lastMonth.Add(-time.Hour), loc)
	for _, r := range [][2]time.Time{{lastMonth, thisMonth}, {prevMonth, lastMonth}} {
		stmts = append(stmts, fmt.Sprintf("SELECT sum(%s) FROM %s WHERE time >= %s AND time < %s GROUP BY %s",
			gmv, orders1d, influxql.Time(r[0]), influxql.Time(r[1]), influxql.Ident(schema.TagStore)))
	}
	nMonths := len(stmts) - 2
	out = append(out, &historyScreen{Name: "a year by month, the last month's change by store", Set: h,
		Panels: []Panel{{Title: "GMV by month", From: yearFrom, To: thisMonth, Now: h.End, Queries: []backend.DataQuery{
			kpiQuery("A", yearFrom, thisMonth, `{"kpi":"gmv","interval":"month"}`),
			kpiQuery("B", lastMonth, thisMonth, `{"kpi":"gmv","interval":"range","compare":"previous_period","contribution":{"dimension":"store"}}`),
		}}},
		Raw: []string{strings.Join(stmts, "; ")},
		RawTotal: func(a [][]*influxql.Series) (float64, error) {
			// the year's months only (the first nMonths statements)
			var months [][]*influxql.Series
			for i := range a {
				if i < nMonths {
					months = append(months, a[i])
				}
			}
			return sumTotal(months)
		}})

	// This Double Eleven against last year's, by hour.
	d11 := time.Date(today.In(loc).Year(), 11, 11, 0, 0, 0, 0, loc)
	if !d11.Add(24 * time.Hour).Before(today) {
		d11 = time.Date(today.In(loc).Year()-1, 11, 11, 0, 0, 0, 0, loc)
	}
	last := time.Date(d11.Year()-1, 11, 11, 0, 0, 0, 0, loc)
	var d11stmts []string
	for _, d := range []time.Time{d11, last} {
		d11stmts = append(d11stmts, fmt.Sprintf("SELECT sum(%s) FROM %s WHERE time >= %s AND time < %s GROUP BY time(1h)",
			gmv, orders1h, influxql.Time(d), influxql.Time(localday.AddDays(d, 1, loc))))
	}
	out = append(out, &historyScreen{Name: "Double Eleven against last year's, by hour", Set: h,
		Panels: []Panel{{Title: "Double Eleven", From: d11, To: localday.AddDays(d11, 1, loc), Now: h.End, Queries: []backend.DataQuery{
			kpiQuery("A", d11, localday.AddDays(d11, 1, loc), `{"kpi":"gmv","interval":"1h","compare":"campaign","compareOutputs":["series"]}`),
		}}},
		Raw: []string{strings.Join(d11stmts, "; ")}, RawTotal: sumTotal})

	// The top 10 stores by GMV over 13 months, by month.
	topFrom := monthStart(thisMonth.AddDate(0, -13, 0).Add(36*time.Hour), loc)
	topAll := fmt.Sprintf("SELECT sum(%s) FROM %s WHERE time >= %s AND time < %s GROUP BY %s",
		gmv, orders1d, influxql.Time(topFrom), influxql.Time(thisMonth), influxql.Ident(schema.TagStore))
	out = append(out, &historyScreen{Name: "top 10 stores over 13 months, by month", Set: h,
		Panels: []Panel{{Title: "Top stores", From: topFrom, To: thisMonth, Now: h.End, Queries: []backend.DataQuery{
			kpiQuery("A", topFrom, thisMonth, `{"kpi":"gmv","interval":"month","groupBy":["store"],"topN":{"n":10,"by":"store"}}`),
		}}},
		// Two round trips: the stores' totals, then the top ten by month
		// (written by topMonthly from the first answer).
		// The plugin's A holds the top ten and "other": every store's total.
		Raw: []string{topAll, "topMonthly"}, RawTotal: func(a [][]*influxql.Series) (float64, error) { return sumTotal(a[:1]) }})
	return out, nil
}

// topMonthly writes the second round trip of the top-N screen: the ten
// largest stores of the first answer, by month.
func topMonthly(first []*influxql.Series, from, to time.Time, loc *time.Location) (string, error) {
	type st struct {
		store string
		v     float64
	}
	var all []st
	for _, s := range first {
		c := s.Column("sum")
		for _, row := range s.Values {
			v, ok, err := influxql.Float(row[c])
			if err != nil {
				return "", err
			}
			if ok {
				all = append(all, st{s.Tags[schema.TagStore], v})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var names []string
	for i := 0; i < len(all) && i < 10; i++ {
		names = append(names, influxql.String(all[i].store))
	}
	if len(names) == 0 {
		return "", errors.New("no store has GMV")
	}
	var stmts []string
	for m := from; m.Before(to); {
		next := monthStart(m.AddDate(0, 1, 0).Add(36*time.Hour), loc)
		end := next
		if end.After(to) {
			end = to
		}
		var ors []string
		for _, n := range names {
			ors = append(ors, influxql.Ident(schema.TagStore)+" = "+n)
		}
		stmts = append(stmts, fmt.Sprintf("SELECT sum(%s) FROM %s WHERE (%s) AND time >= %s AND time < %s GROUP BY %s",
			influxql.Ident(schema.FieldGMV), influxql.Ident(schema.MeasOrders+schema.SuffixDayStore), strings.Join(ors, " OR "),
			influxql.Time(m), influxql.Time(end), influxql.Ident(schema.TagStore)))
		m = next
	}
	return strings.Join(stmts, "; "), nil
}

type historyBench struct {
	srv    *influxtest.Server
	plugin *PluginProcess
	loc    *time.Location
	gen    atomic.Int64
}

// pluginContext is a new datasource instance (an empty cache) of the side.
func (hb *historyBench) pluginContext(side int, h *historySet) backend.PluginContext {
	settings := map[string]any{"url": hb.srv.URL, "version": "1.8", "timeZone": TimeZone, "cacheTTL": "5m",
		"timeout": 900, "requestMemoryMB": 8192, "datasourceMemoryMB": 16384}
	if side == sideFlux {
		settings["bucket"], settings["queryLanguage"] = h.MinutesDB+"/autogen", "flux"
	} else {
		settings["bucket"], settings["queryLanguage"] = h.MainDB+"/autogen", "influxql"
	}
	js, _ := json.Marshal(settings)
	g := hb.gen.Add(1)
	return backend.PluginContext{PluginID: "storepulse-kpi-datasource",
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 100 + g, UID: fmt.Sprintf("storepulse-%d", g), Name: "StorePulse", Updated: time.Unix(1000+g, 0),
			JSONData: js, DecryptedSecureJSONData: map[string]string{"token": hb.srv.Token},
		}}
}

// pluginScreen requests every panel at once; it returns the time until the
// last answered and the responses.
func (hb *historyBench) pluginScreen(ctx context.Context, pc backend.PluginContext, s *historyScreen) (time.Duration, []*backend.QueryDataResponse, error) {
	resps := make([]*backend.QueryDataResponse, len(s.Panels))
	errs := make([]error, len(s.Panels))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range s.Panels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &s.Panels[i]
			resp, err := hb.plugin.QueryData(ctx, p.request(pc))
			if err == nil {
				for ref, r := range resp.Responses {
					if r.Error != nil {
						err = errors.Join(err, fmt.Errorf("%s %s: %w", p.Title, ref, r.Error))
					}
				}
			}
			resps[i], errs[i] = resp, err
		}()
	}
	wg.Wait()
	return time.Since(start), resps, errors.Join(errs...)
}

// rawScreen runs the screen's raw InfluxQL, round trip after round trip.
func (hb *historyBench) rawScreen(ctx context.Context, s *historyScreen) (time.Duration, float64, error) {
	ql := &influxql.Client{URL: hb.srv.URL, Token: hb.srv.Token, Database: s.Set.MainDB, Timeout: 15 * time.Minute}
	start := time.Now()
	var answers [][]*influxql.Series
	for _, q := range s.Raw {
		if q == "topMonthly" {
			var err error
			p := s.Panels[0]
			if q, err = topMonthly(answers[len(answers)-1], p.From, p.To, hb.loc); err != nil {
				return 0, 0, err
			}
		}
		n := strings.Count(q, "; ") + 1
		got := make([][]*influxql.Series, n)
		if err := ql.Query(ctx, q, influxql.Options{}, func(stmt int, sr *influxql.Series) error {
			if stmt < 0 || stmt >= n {
				return fmt.Errorf("statement %d of %d", stmt, n)
			}
			c := *sr
			got[stmt] = append(got[stmt], &c)
			return nil
		}); err != nil {
			return 0, 0, err
		}
		answers = append(answers, got...)
	}
	took := time.Since(start)
	t, err := s.RawTotal(answers)
	return took, t, err
}

// eachNumber calls fn with every finite number of the responses' numeric
// fields: the response's index, the RefID, the frame and the field.
func eachNumber(resps []*backend.QueryDataResponse, fn func(i int, ref string, f *data.Frame, fd *data.Field, v float64)) {
	for i, resp := range resps {
		if resp == nil {
			continue
		}
		for ref, r := range resp.Responses {
			for _, f := range r.Frames {
				for _, fd := range f.Fields {
					if fd.Type().Time() || !fd.Type().Numeric() {
						continue
					}
					for j := range fd.Len() {
						if v, err := fd.FloatAt(j); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
							fn(i, ref, f, fd, v)
						}
					}
				}
			}
		}
	}
}

// frameSums adds up every finite number of the responses' frames: all of
// them (all), and those of RefID A (a).
func frameSums(resps []*backend.QueryDataResponse) (all, a float64) {
	eachNumber(resps, func(_ int, ref string, _ *data.Frame, _ *data.Field, v float64) {
		all += v
		if ref == "A" {
			a += v
		}
	})
	return all, a
}

// fieldSums adds up each numeric field's finite values, keyed by panel,
// RefID, frame and field name and labels.
func fieldSums(s *historyScreen, resps []*backend.QueryDataResponse) map[string]float64 {
	out := map[string]float64{}
	eachNumber(resps, func(i int, ref string, f *data.Frame, fd *data.Field, v float64) {
		if i >= len(s.Panels) {
			return
		}
		key := fmt.Sprintf("%s %s / %s / %s", s.Panels[i].Title, ref, f.Name, fd.Name)
		if fd.Labels != nil {
			key += " " + fd.Labels.String()
		}
		out[key] += v
	})
	return out
}

// differing lists the fields whose sums differ between two sides by more
// than a relative 1e-9 (or exist on one side only), sorted.
func differing(a, b map[string]float64) []string {
	var out []string
	for k, va := range a {
		vb, ok := b[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: %g, missing on the new path", k, va))
		case math.Abs(va-vb) > 1e-9*math.Max(1, math.Max(math.Abs(va), math.Abs(vb))):
			out = append(out, fmt.Sprintf("%s: %g against %g", k, va, vb))
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %g, missing on today's engine", k, vb))
		}
	}
	slices.Sort(out)
	return out
}

// historyCheck is what one screen's sides answered, before the timing.
type historyCheck struct {
	Differ                            []string // the fields whose sums differ between the plugin sides
	FluxAll, NewAll, FluxA, NewA, Raw float64
	HasRaw                            bool
	Err                               [numHistorySides]error
}

func (hb *historyBench) check(ctx context.Context, screens []*historyScreen) []historyCheck {
	out := make([]historyCheck, len(screens))
	for i, s := range screens {
		c := &out[i]
		var resps []*backend.QueryDataResponse
		_, resps, c.Err[sideFlux] = hb.pluginScreen(ctx, hb.pluginContext(sideFlux, s.Set), s)
		c.FluxAll, c.FluxA = frameSums(resps)
		flux := fieldSums(s, resps)
		_, resps, c.Err[sideNew] = hb.pluginScreen(ctx, hb.pluginContext(sideNew, s.Set), s)
		c.NewAll, c.NewA = frameSums(resps)
		c.Differ = differing(flux, fieldSums(s, resps))
		if len(s.Raw) > 0 {
			_, c.Raw, c.Err[sideRaw] = hb.rawScreen(ctx, s)
			c.HasRaw = true
		}
	}
	return out
}

// historyTimes are one screen's measured times per side (cold), and the
// cached times of the new path.
type historyTimes struct {
	Cold   [numHistorySides][]time.Duration
	Cached [numHistorySides][]time.Duration
	Failed [numHistorySides]int
	Errors [numHistorySides]error
}

// measure runs the rounds: every screen on every side, the sides' order
// turning round by round.
func (hb *historyBench) measure(ctx context.Context, screens []*historyScreen, o HistoryOptions) []historyTimes {
	out := make([]historyTimes, len(screens))
	orders := [][]int{{sideFlux, sideRaw, sideNew}, {sideNew, sideFlux, sideRaw}, {sideRaw, sideNew, sideFlux}}
	for round := range o.Iterations {
		for i, s := range screens {
			for _, side := range orders[(round+i)%len(orders)] {
				if side == sideRaw {
					if len(s.Raw) == 0 {
						continue
					}
					took, _, err := hb.rawScreen(ctx, s)
					out[i].record(side, false, took, err)
					continue
				}
				pc := hb.pluginContext(side, s.Set)
				// An empty request creates the instance before the timing.
				_, _ = hb.plugin.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc})
				took, _, err := hb.pluginScreen(ctx, pc, s)
				out[i].record(side, false, took, err)
				if s.Cached && err == nil {
					took, _, err = hb.pluginScreen(ctx, pc, s)
					out[i].record(side, true, took, err)
				}
			}
			fmt.Fprintf(o.Log, "round %d/%d: %s measured\n", round+1, o.Iterations, s.Name)
		}
	}
	return out
}

// panelAlone is one panel's cold times on each plugin side, requested alone.
type panelAlone struct {
	Title string
	Cold  [numHistorySides][]time.Duration
}

// measureAlone requests every panel of the screens measured cached (the
// wall screens) alone, cold, on both plugin sides, the sides' order turning
// round by round: where a screen's time goes, panel by panel, without the
// other panels competing for InfluxDB.
func (hb *historyBench) measureAlone(ctx context.Context, screens []*historyScreen, o HistoryOptions) map[int][]panelAlone {
	out := map[int][]panelAlone{}
	for i, s := range screens {
		if !s.Cached {
			continue
		}
		ps := make([]panelAlone, len(s.Panels))
		for round := range o.Iterations {
			for j := range s.Panels {
				ps[j].Title = s.Panels[j].Title
				one := &historyScreen{Name: s.Name, Set: s.Set, Panels: s.Panels[j : j+1]}
				sides := []int{sideFlux, sideNew}
				if (round+j)%2 == 1 {
					sides = []int{sideNew, sideFlux}
				}
				for _, side := range sides {
					pc := hb.pluginContext(side, s.Set)
					_, _ = hb.plugin.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc})
					if took, _, err := hb.pluginScreen(ctx, pc, one); err == nil {
						ps[j].Cold[side] = append(ps[j].Cold[side], took)
					}
				}
			}
			fmt.Fprintf(o.Log, "round %d/%d: %s, panel by panel, measured\n", round+1, o.Iterations, s.Name)
		}
		out[i] = ps
	}
	return out
}

// reportAlone prints the panel-by-panel table: one row per panel, a pair of
// columns (today's engine, new path) per measured screen.
func reportAlone(w io.Writer, o HistoryOptions, screens []*historyScreen, alone map[int][]panelAlone) {
	var idx []int
	for i := range screens {
		if _, ok := alone[i]; ok {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	fmt.Fprintf(w, "\n**Panel by panel**, each requested alone on a new datasource instance, cold, %d rounds (median):\n\n", o.Iterations)
	head, rule := "| panel |", "|---|"
	for _, i := range idx {
		head += fmt.Sprintf(" %s: today's engine | %s: new path |", screens[i].Name, screens[i].Name)
		rule += "---:|---:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	for j := range alone[idx[0]] {
		row := "| " + alone[idx[0]][j].Title + " |"
		for _, i := range idx {
			if j >= len(alone[i]) {
				row += " — | — |"
				continue
			}
			for _, side := range []int{sideFlux, sideNew} {
				if ds := alone[i][j].Cold[side]; len(ds) > 0 {
					row += " " + ms(median(ds)) + " |"
				} else {
					row += " failed |"
				}
			}
		}
		fmt.Fprintln(w, row)
	}
}

func (t *historyTimes) record(side int, cached bool, d time.Duration, err error) {
	if err != nil {
		t.Failed[side]++
		t.Errors[side] = err
		return
	}
	if cached {
		t.Cached[side] = append(t.Cached[side], d)
	} else {
		t.Cold[side] = append(t.Cold[side], d)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s–%s", ms(slices.Min(ds)), ms(slices.Max(ds)))
}

// dbSize is the bytes of db's data and WAL under the InfluxDB directory.
func dbSize(dir, db string) int64 {
	return dirSize(filepath.Join(dir, "influx", "data", db)) + dirSize(filepath.Join(dir, "influx", "wal", db))
}

func reportHistory(w io.Writer, o HistoryOptions, sets []*historySet, screens []*historyScreen, checks []historyCheck, res []historyTimes, idle time.Duration, dir string) {
	fmt.Fprintf(w, "%s UTC. Machine: %s. Screens at %s (%s).\n\n", time.Now().UTC().Format("2006-01-02 15:04"), machine(),
		o.End.In(sets[0].End.Location()).Format(time.DateTime), TimeZone)
	fine := "the new path reads its minutes from the minutes database, every day of them"
	if o.FineDays > 0 {
		fine = fmt.Sprintf("the new path reads its minutes from a database holding only the last %d days of them, as `influx.fine_bucket` with a `fine_retention` of %dh leaves it; today's engine reads every minute", o.FineDays, o.FineDays*24)
	}
	fmt.Fprintf(w, "**Data** (simulator seed %d, scale %v, long histories loaded in parts of about 100 days at once, each as its own ingester; %s; InfluxDB 1.8.10, series index %s; waited %.0f s for InfluxDB to settle after loading):\n\n", o.Seed, o.Scale, fine, indexName(o.IndexVersion), idle.Seconds())
	fmt.Fprintln(w, "| set | events | minute lines | of which kept (fine DB) | sketch lines | of which store-level | consolidated lines | of which store totals | history lines/event | load | consolidation | disk, minutes DB | disk, fine DB | disk, consolidated DB | disk per store-year, consolidated (minutes) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, h := range sets {
		minB, mainB := dbSize(dir, h.MinutesDB), dbSize(dir, h.MainDB)
		kept, fineB := "—", "—"
		if h.FineDB != "" {
			kept, fineB = fmt.Sprint(h.FineLines), mb(dbSize(dir, h.FineDB))
		}
		storeYears := float64(h.Stores) * float64(h.Days) / 365
		hist := float64(h.Consolidated+h.SketchLines) / float64(h.Events)
		fmt.Fprintf(w, "| %d stores × %d days | %d | %d | %s | %d | %d | %d | %d | %.3f | %.0f s | %.0f s | %s | %s | %s | %.1f MB (%.1f MB) |\n",
			h.Stores, h.Days, h.Events, h.MinuteLines, kept, h.SketchLines, h.StoreSketches, h.Consolidated, h.StoreTotals, hist, h.LoadSeconds, h.ConsSeconds,
			mb(minB), fineB, mb(mainB), float64(mainB)/(1<<20)/storeYears, float64(minB)/(1<<20)/storeYears)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "**Cold screens**, %d rounds, sides interleaved (a new datasource instance for every plugin screen; median, and min–max):\n\n", o.Iterations)
	fmt.Fprintln(w, "| screen | requests | today's engine (Flux, minutes) | raw InfluxQL (consolidated) | new path (InfluxQL, consolidated) | today's / new | raw / new | new path cached |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for i, s := range screens {
		t := &res[i]
		cell := func(side int) string {
			if len(t.Cold[side]) == 0 && t.Failed[side] == 0 {
				return "—"
			}
			c := fmt.Sprintf("%s (%s)", ms(median(t.Cold[side])), spread(t.Cold[side]))
			if t.Failed[side] > 0 {
				c += fmt.Sprintf(", %d failed", t.Failed[side])
			}
			return c
		}
		rat := func(a, b int) string {
			if len(t.Cold[a]) == 0 || len(t.Cold[b]) == 0 {
				return "—"
			}
			return fmt.Sprintf("%.1f×", float64(median(t.Cold[a]))/float64(median(t.Cold[b])))
		}
		cached := "—"
		if len(t.Cached[sideNew]) > 0 {
			cached = fmt.Sprintf("%s (today's engine %s)", ms(median(t.Cached[sideNew])), ms(median(t.Cached[sideFlux])))
		}
		nq := 0
		for _, p := range s.Panels {
			nq += len(p.Queries)
		}
		fmt.Fprintf(w, "| %s | %d panels, %d queries | %s | %s | %s | %s | %s | %s |\n", s.Name, len(s.Panels), nq,
			cell(sideFlux), cell(sideRaw), cell(sideNew), rat(sideFlux, sideNew), rat(sideRaw, sideNew), cached)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "**Same numbers?** Before the timing, each screen once per side; the sums of every number the plugin returned (both plugin sides), and the grand total of RefID A against the raw InfluxQL's:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| screen | today's engine, all numbers | new path, all numbers | Δ | new path, A | raw | Δ | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	for i, s := range screens {
		c := &checks[i]
		raw, rd := "—", "—"
		if c.HasRaw {
			raw, rd = num(c.Raw), pct(RelDiff(c.NewA, c.Raw))
		}
		var errs []string
		for side, e := range c.Err {
			if e != nil {
				errs = append(errs, historySideNames[side]+": "+firstLine(e.Error()))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Name, num(c.FluxAll), num(c.NewAll), pct(RelDiff(c.NewAll, c.FluxAll)),
			num(c.NewA), raw, rd, strings.Join(errs, "; "))
	}
	for i, s := range screens {
		if d := checks[i].Differ; len(d) > 0 {
			fmt.Fprintf(w, "\nFields whose sums differ between the plugin sides on %q (%d):\n", s.Name, len(d))
			for _, l := range d[:min(len(d), 12)] {
				fmt.Fprintf(w, "- %s\n", l)
			}
		}
	}
	for i, s := range screens {
		for side, e := range res[i].Errors {
			if e != nil {
				fmt.Fprintf(w, "\nLast failure of %s on %q: %s\n", historySideNames[side], s.Name, firstLine(e.Error()))
			}
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func indexName(v string) string {
	if v == "" {
		return "inmem (the default)"
	}
	return v
}
