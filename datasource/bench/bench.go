// Package bench measures the StorePulse datasource side by side with the
// alternative a Grafana user has, in one run on one machine: the director's
// wall screen (the provisioned dashboard, read from its JSON: big numbers of
// today against the same time last week with a week's sparkline, the GMV
// trend in its band, the day's forecast, calendar, freshness, annotations)
// requested
//
//	(raw)    as hand-written Flux sent straight to InfluxDB, what a user of
//	         Grafana's InfluxDB datasource would run (RawFor), for the panels
//	         where such Flux exists;
//	(cold)   through the plugin's QueryData with its cache empty (a new
//	         datasource instance), and
//	(cached) the same screen again right after, within the cache TTL;
//
// the sides interleaved iteration by iteration, since the machine is shared
// and noisy; then the whole screen through the plugin, cold and cached. The plugin runs as its own process, started as Grafana starts it,
// so that its RSS is its own. The data comes from the simulator through
// internal/simload into a real InfluxDB 1.8.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

// Options size the benchmark.
type Options struct {
	PluginBinary string
	// Dashboard is the provisioned dashboard whose requests are measured
	// (the director's wall screen).
	Dashboard    string
	Stores, Days int
	Seed         uint64
	Iterations   int // measured screens per side
	Warmup       int // unmeasured iterations first
	// TimeOfDay is the screen's "now" as a local time of day: the data ends
	// at the latest such instant before the run, so every run measures a
	// screen holding the same hours of today whatever the wall clock says.
	TimeOfDay time.Duration
	// DataDir keeps the loaded InfluxDB between runs ("" = a temporary
	// directory, loaded afresh and removed).
	DataDir string
	// CacheTTL is the datasource's cacheTTL setting. It does not change a
	// cold screen (the cache starts empty); the cached screen needs every
	// read of the cold one still kept, which the default 10s does not
	// guarantee when the cold screen itself takes longer on a loaded machine.
	CacheTTL    time.Duration
	ShowQueries bool // print every panel's plugin query models and raw Flux
	Out, Log    io.Writer
	// Now is the clock that places the loaded days (nil = the wall clock).
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// TimeZone is the store time zone of the simulated stores and the datasource.
const TimeZone = "Asia/Shanghai"

// Run executes the whole benchmark and prints a Markdown report to o.Out.
func Run(ctx context.Context, o Options) error {
	loc, err := time.LoadLocation(TimeZone)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	dir, srv, cleanup, err := startInflux(o.DataDir, "storepulse-bench-query-", "")
	if err != nil {
		return err
	}
	defer cleanup()
	m, err := ensureData(ctx, srv, dir, o, loc)
	if err != nil {
		return err
	}
	idle := waitIdle(ctx, srv.PID(), compactAfter+15*time.Second, o.Log)

	plugin, err := StartPlugin(ctx, o.PluginBinary, m.End, io.Discard)
	if err != nil {
		return err
	}
	defer plugin.Stop()
	startRSS, _, err := Memory(plugin.PID())
	if err != nil {
		return err
	}
	screen, err := LoadScreen(o.Dashboard, m.End, srv.Bucket)
	if err != nil {
		return err
	}
	s, err := newSetup(srv, plugin, screen, o.CacheTTL)
	if err != nil {
		return err
	}
	defer s.raw.Close()
	if o.ShowQueries {
		s.showQueries(o.Out)
	}

	diffs, err := s.check(ctx)
	if err != nil {
		return err
	}
	res, err := s.measure(ctx, o)
	if err != nil {
		return err
	}
	rss, peak, err := Memory(plugin.PID())
	if err != nil {
		return err
	}
	report(o.Out, reportData{opts: o, manifest: m, idleWait: idle, screen: screen, comparable: s.comparable, results: res, diffs: diffs,
		startRSS: startRSS, endRSS: rss, peakRSS: peak, dataBytes: dirSize(filepath.Join(dir, "influx"))})
	return nil
}

// manifest describes the data set in a data directory.
type manifest struct {
	Stores      int       `json:"stores"`
	Days        int       `json:"days"`
	Seed        uint64    `json:"seed"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Events      int       `json:"events"`
	Lines       int64     `json:"lines"`
	LoadSeconds float64   `json:"loadSeconds"`
	Reused      bool      `json:"-"`
}

const manifestFile = "storepulse-bench-query.json"

// ensureData loads the simulated stores into srv unless the data directory
// already holds the same data set.
func ensureData(ctx context.Context, srv *influxtest.Server, dir string, o Options, loc *time.Location) (manifest, error) {
	path := filepath.Join(dir, manifestFile)
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- the benchmark's own data directory
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("bench: %s: %w", path, err)
		}
		if m.Stores != o.Stores || m.Days != o.Days || m.Seed != o.Seed {
			return m, fmt.Errorf("bench: %s holds %d stores × %d days (seed %d), not the %d × %d (seed %d) asked for: remove the directory or pick another",
				dir, m.Stores, m.Days, m.Seed, o.Stores, o.Days, o.Seed)
		}
		m.Reused = true
		fmt.Fprintf(o.Log, "reusing %s: %d stores × %d days ending %s, loaded earlier in %.0f s\n", dir, m.Stores, m.Days, m.End.In(loc).Format(time.RFC3339), m.LoadSeconds)
		return m, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return manifest{}, fmt.Errorf("bench: %w", err)
	}

	end := latestTimeOfDay(o.now(), o.TimeOfDay, loc)
	m := manifest{Stores: o.Stores, Days: o.Days, Seed: o.Seed, End: end, Start: end.In(loc).AddDate(0, 0, -o.Days)}
	var lines atomic.Int64
	var days atomic.Int64
	started := time.Now()
	write := func(ctx context.Context, ls []string) error {
		// Four writers: InfluxDB takes concurrent batches faster than one stream.
		const writers = 4
		var wg sync.WaitGroup
		errs := make([]error, writers)
		per := (len(ls) + writers - 1) / writers
		for w := range writers {
			lo, hi := min(w*per, len(ls)), min((w+1)*per, len(ls))
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w] = srv.Write(ctx, ls[lo:hi])
			}()
		}
		wg.Wait()
		lines.Add(int64(len(ls)))
		if n := days.Add(1); n%10 == 0 {
			fmt.Fprintf(o.Log, "loaded %d of ~%d days, %d lines, %.0f s\n", n, o.Days, lines.Load(), time.Since(started).Seconds())
		}
		return errors.Join(errs...)
	}
	fmt.Fprintf(o.Log, "loading %d stores × %d days (%s .. %s) into InfluxDB\n", o.Stores, o.Days,
		m.Start.In(loc).Format(time.DateTime), m.End.In(loc).Format(time.DateTime))
	res, err := simload.Load(ctx, simload.Target{URL: srv.URL, Token: srv.Token, Org: srv.Org, Bucket: srv.Bucket, Write: write},
		sim.Config{Seed: o.Seed, NumStores: o.Stores, Start: m.Start, End: m.End, Location: loc})
	if err != nil {
		return m, fmt.Errorf("bench: load: %w", err)
	}
	m.Events, m.Lines, m.LoadSeconds = res.Events, lines.Load(), time.Since(started).Seconds()
	fmt.Fprintf(o.Log, "loaded %d events as %d lines in %.0f s\n", m.Events, m.Lines, m.LoadSeconds)
	if o.DataDir != "" {
		b, _ := json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return m, fmt.Errorf("bench: %w", err)
		}
	}
	return m, nil
}

// latestTimeOfDay is the latest instant at or before now whose local clock
// reads tod.
func latestTimeOfDay(now time.Time, tod time.Duration, loc *time.Location) time.Time {
	l := now.In(loc)
	t := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc).Add(tod)
	if t.After(now) {
		t = time.Date(l.Year(), l.Month(), l.Day()-1, 0, 0, 0, 0, loc).Add(tod)
	}
	return t
}

// startInflux starts the benchmark's InfluxDB in dataDir, or in a temporary
// directory named by pattern when dataDir is "". cleanup stops it and removes
// a temporary directory.
func startInflux(dataDir, pattern, index string) (string, *influxtest.Server, func(), error) {
	dir, temp := dataDir, false
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", pattern); err != nil {
			return "", nil, nil, fmt.Errorf("bench: %w", err)
		}
		temp = true
	}
	srv, err := influxtest.StartDirOptions(filepath.Join(dir, "influx"), influxtest.Options{CompactAfter: compactAfter, IndexVersion: index})
	if err != nil {
		if temp {
			_ = os.RemoveAll(dir)
		}
		return "", nil, nil, fmt.Errorf("bench: start InfluxDB: %w", err)
	}
	return dir, srv, func() {
		srv.Stop()
		if temp {
			_ = os.RemoveAll(dir)
		}
	}, nil
}

// compactAfter is how long a shard goes unwritten before InfluxDB snapshots
// and fully compacts it in the benchmark (its defaults: 10 minutes and 4
// hours, which would compact the loaded data in the middle of the run).
const compactAfter = 30 * time.Second

// waitIdle waits at least minWait, then until InfluxDB's snapshots and
// compactions after the load have settled (below 5 % of a core for 10 s, at
// most 10 minutes), so that they do not run during the measurement; it
// returns how long it waited.
func waitIdle(ctx context.Context, pid int, minWait time.Duration, log io.Writer) time.Duration {
	start := time.Now()
	quiet := 0
	prev, err := CPUTime(pid)
	if err != nil {
		return 0
	}
	for (quiet < 10 || time.Since(start) < minWait) && time.Since(start) < 10*time.Minute && ctx.Err() == nil {
		time.Sleep(time.Second)
		cur, err := CPUTime(pid)
		if err != nil {
			return time.Since(start)
		}
		if cur-prev <= 50*time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
	}
	fmt.Fprintf(log, "InfluxDB idle after %.0f s\n", time.Since(start).Seconds())
	return time.Since(start)
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// setup is everything a screen needs, on both sides.
type setup struct {
	srv    *influxtest.Server
	plugin Querier
	raw    *RawClient
	screen *Screen
	// comparable are the indexes of the panels with a raw equivalent.
	comparable []int
	// cacheTTL is the datasource setting (0: the plugin's default).
	cacheTTL time.Duration
	// pluginPID and influxPID are read for CPU times (0 when unknown).
	pluginPID, influxPID int
}

func newSetup(srv *influxtest.Server, plugin Querier, screen *Screen, cacheTTL time.Duration) (*setup, error) {
	s := &setup{srv: srv, plugin: plugin, screen: screen, influxPID: srv.PID(), cacheTTL: cacheTTL}
	if pp, ok := plugin.(*PluginProcess); ok {
		s.pluginPID = pp.PID()
	}
	for i, p := range screen.Panels {
		if p.Raw != "" {
			s.comparable = append(s.comparable, i)
		}
	}
	if len(s.comparable) == 0 {
		return nil, fmt.Errorf("bench: no panel of %q has a raw Flux equivalent", screen.Title)
	}
	s.raw = NewRawClient(srv.URL, srv.Token, srv.Org)
	return s, nil
}

// pluginContext is a datasource instance reading the benchmark's InfluxDB
// with the default settings but cacheTTL. Each generation is a new instance
// to Grafana's instance manager (its settings were "updated"), so its cache
// starts empty.
func (s *setup) pluginContext(generation int) backend.PluginContext {
	settings := map[string]any{"url": s.srv.URL, "version": "1.8", "bucket": s.srv.Bucket, "timeZone": TimeZone}
	if s.cacheTTL > 0 {
		settings["cacheTTL"] = s.cacheTTL.String()
	}
	js, _ := json.Marshal(settings)
	return backend.PluginContext{PluginID: "storepulse-kpi-datasource",
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: "storepulse-kpi", Name: "StorePulse", Updated: time.Unix(int64(1000+generation), 0),
			JSONData: js, DecryptedSecureJSONData: map[string]string{"token": s.srv.Token},
		}}
}

func (s *setup) showQueries(w io.Writer) {
	for _, p := range s.screen.Panels {
		fmt.Fprintf(w, "#### %s\n\nplugin (%s .. %s):\n\n```json\n", p.Title, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
		for _, q := range p.Queries {
			fmt.Fprintf(w, "%s\n", q.JSON)
		}
		fmt.Fprintln(w, "```")
		if p.Raw != "" {
			fmt.Fprintf(w, "\nraw Flux:\n\n```flux\n%s```\n", p.Raw)
		}
		fmt.Fprintln(w)
	}
}

// pluginPanel runs one panel through the plugin and fails on any query error.
func (s *setup) pluginPanel(ctx context.Context, pc backend.PluginContext, p *Panel) (*backend.QueryDataResponse, error) {
	resp, err := s.plugin.QueryData(ctx, p.request(pc))
	if err != nil {
		return nil, fmt.Errorf("plugin: panel %s: %w", p.Title, err)
	}
	for ref, r := range resp.Responses {
		if r.Error != nil {
			return nil, fmt.Errorf("plugin: panel %s query %s: %w", p.Title, ref, r.Error)
		}
	}
	return resp, nil
}

// check runs every comparable panel once on both sides (the plugin's compare
// with the earlier series too) and compares their numbers.
func (s *setup) check(ctx context.Context) ([]Diff, error) {
	pc := s.pluginContext(-1)
	today := midnightOf(s.screen.Now, s.screen.Loc)
	var out []Diff
	for _, i := range s.comparable {
		p := s.screen.Panels[i]
		if p.Shape != ShapeFreshness {
			// The panel asks for the change only; the check wants last week's values too.
			var m map[string]any
			if err := json.Unmarshal(p.Queries[0].JSON, &m); err != nil {
				return nil, fmt.Errorf("panel %s: %w", p.Title, err)
			}
			m["compareOutputs"] = []string{"series", "change"}
			js, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			p.Queries = []backend.DataQuery{p.Queries[0]}
			p.Queries[0].JSON = js
		}
		resp, err := s.pluginPanel(ctx, pc, &p)
		if err != nil {
			return nil, err
		}
		pv, err := PluginValues(&p, resp)
		if err != nil {
			return nil, fmt.Errorf("panel %s: %w", p.Title, err)
		}
		rv, err := s.raw.Query(ctx, &p)
		if err != nil {
			return nil, fmt.Errorf("panel %s: %w", p.Title, err)
		}
		out = append(out, Compare(&p, pv, rv, today))
	}
	return out, nil
}

func midnightOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// Side is one way of loading a screen.
type Side int

// The sides: the comparable panels three ways, the whole screen two.
const (
	SideRaw Side = iota
	SideCold
	SideCached
	SideFullCold
	SideFullCached
	numSides
)

func (s Side) String() string {
	return [...]string{"raw Flux, straight to InfluxDB", "plugin, cold (cache empty)", "plugin, cached (same screen again)",
		"plugin, whole screen, cold", "plugin, whole screen, cached"}[s]
}

// ScreenRun is one measured screen.
type ScreenRun struct {
	Total  time.Duration         // first request sent .. last answered
	Panels map[int]time.Duration // each panel's request (by index in the screen), all sent at once
	// Errors are the failed requests (e.g. InfluxDB timing out): a failed
	// request is reported, not retried, and its time is its time to fail.
	Errors map[int]error
	// CPU used during the screen by InfluxDB, the plugin and this process
	// (the raw side's client and Grafana's side of the gRPC calls).
	CPUInflux, CPUPlugin, CPUSelf time.Duration
}

// Results are the measured screens per side, iteration by iteration.
type Results [numSides][]ScreenRun

// run fires the panels at once, as a browser does when the dashboard
// opens, and waits for all.
func (s *setup) run(ctx context.Context, side Side, pc backend.PluginContext, panels []int) (ScreenRun, error) {
	r := ScreenRun{Panels: map[int]time.Duration{}, Errors: map[int]error{}}
	ci0, _ := CPUTime(s.influxPID)
	var cp0 time.Duration
	if s.pluginPID > 0 {
		cp0, _ = CPUTime(s.pluginPID)
	}
	cs0, _ := CPUTime(0)
	errs := make([]error, len(panels))
	times := make([]time.Duration, len(panels))
	var wg sync.WaitGroup
	start := time.Now()
	for n, i := range panels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			p := &s.screen.Panels[i]
			if side == SideRaw {
				_, errs[n] = s.raw.Query(ctx, p)
			} else {
				_, errs[n] = s.pluginPanel(ctx, pc, p)
			}
			times[n] = time.Since(t0)
		}()
	}
	wg.Wait()
	r.Total = time.Since(start)
	for n, i := range panels {
		r.Panels[i] = times[n]
		if errs[n] != nil {
			r.Errors[i] = errs[n]
		}
	}
	ci1, _ := CPUTime(s.influxPID)
	if s.pluginPID > 0 {
		cp1, _ := CPUTime(s.pluginPID)
		r.CPUPlugin = cp1 - cp0
	}
	cs1, _ := CPUTime(0)
	r.CPUInflux, r.CPUSelf = ci1-ci0, cs1-cs0
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, nil
}

// measure runs the iterations. Each measures the comparable panels on all
// three sides, alternating their order (raw first, then plugin first) so
// that neither always follows the other, then the whole screen through the
// plugin, cold and cached. Every cold run uses a new datasource instance,
// created before the timing (Grafana keeps instances: a cold screen is an
// empty cache, not a plugin start).
func (s *setup) measure(ctx context.Context, o Options) (Results, error) {
	var res Results
	all := make([]int, len(s.screen.Panels))
	for i := range all {
		all[i] = i
	}
	newInstance := func(gen int) (backend.PluginContext, error) {
		pc := s.pluginContext(gen)
		if _, err := s.plugin.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc}); err != nil {
			return pc, fmt.Errorf("plugin: new instance: %w", err)
		}
		return pc, nil
	}
	for it := range o.Warmup + o.Iterations {
		pc, err := newInstance(2 * it)
		if err != nil {
			return res, err
		}
		order := []Side{SideRaw, SideCold, SideCached}
		if it%2 == 1 {
			order = []Side{SideCold, SideCached, SideRaw}
		}
		var runs [numSides]ScreenRun
		for _, side := range order {
			if runs[side], err = s.run(ctx, side, pc, s.comparable); err != nil {
				return res, fmt.Errorf("%s: %w", side, err)
			}
		}
		if pc, err = newInstance(2*it + 1); err != nil {
			return res, err
		}
		for _, side := range []Side{SideFullCold, SideFullCached} {
			if runs[side], err = s.run(ctx, side, pc, all); err != nil {
				return res, fmt.Errorf("%s: %w", side, err)
			}
		}
		if it < o.Warmup {
			continue
		}
		for side := range numSides {
			res[side] = append(res[side], runs[side])
		}
		for side := range numSides {
			for i, err := range runs[side].Errors {
				fmt.Fprintf(o.Log, "%s: %s failed: %v\n", side, s.screen.Panels[i].Title, err)
			}
		}
		fmt.Fprintf(o.Log, "iteration %d/%d: raw %s, cold %s, cached %s; whole screen cold %s, cached %s\n", it-o.Warmup+1, o.Iterations,
			runs[SideRaw].Total.Round(time.Millisecond), runs[SideCold].Total.Round(time.Millisecond), runs[SideCached].Total.Round(100*time.Microsecond),
			runs[SideFullCold].Total.Round(time.Millisecond), runs[SideFullCached].Total.Round(100*time.Microsecond))
	}
	return res, nil
}
