// Package bench measures the ingest service side by side with the
// alternatives a user has, in one run on one machine:
//
//	(a) events through POST /v1/events, acknowledged only once fsynced
//	(b) the same events written straight into InfluxDB as raw points with the
//	    official client (what a user would do without StorePulse)
//	(c) the same points as line protocol through StorePulse's /api/v2/write
//
// It reports throughput, acknowledgement latency and the ingest process's
// peak RSS. The machine is noisy: compare the ratios of one run.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/ingesttest"
)

// Options size the benchmark.
type Options struct {
	IngestBinary string
	Events       int // at least this many simulated events
	BatchEvents  int // events per /v1/events request
	Clients      int // concurrent HTTP clients
	Stores       int
	// End and Span are the simulated window [End-Span, End]; the events are
	// the first Events the simulator generates in it (it starts at the
	// window's first whole hour), moved by whole minutes so that the last of
	// them falls in the current minute (or the one before). The content is
	// the same whatever the day and hour the benchmark runs: the
	// simulator's traffic follows the local hour, the weekday and the
	// campaign calendar. End's default is 2026-11-24 21:00 in
	// Asia/Shanghai, an ordinary Tuesday evening (no campaign, no member
	// day).
	End   time.Time
	Span  time.Duration
	Scale float64 // simulator volume multiplier (density per store-minute)
	// Now is the clock the events are moved to (default time.Now).
	Now func() time.Time
	Out io.Writer
}

// Result of one measured way in.
type Result struct {
	Name       string
	Events     int
	Elapsed    time.Duration
	P50, P99   time.Duration
	DrainAfter time.Duration // until InfluxDB holds everything (StorePulse runs)
	Lines      float64       // line-protocol lines StorePulse wrote to InfluxDB for this run
	// Commits is the spool's group commits during the requests, and Served
	// the requests as the ingest timed them, from arrival to answer
	// (StorePulse's /v1/events runs): how many, their p99 as the histogram
	// bucket holding it, and how many took over 50 ms.
	Commits, Served durationTail
}

// durationTail summarizes a duration histogram of the ingest over a run.
type durationTail struct {
	N, Over50ms float64
	P99         string // upper bound of the bucket holding the p99
}

const (
	commitMetric  = "storepulse_ingest_spool_commit_seconds"
	requestMetric = "storepulse_ingest_request_duration_seconds"
	// acceptedEvents selects /v1/events requests answered 202.
	acceptedEvents = `code="202",endpoint="events",`
)

func (t durationTail) String() string {
	if t.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s, %.0f / %.0f", t.P99, t.Over50ms, t.N)
}

// tailBetween is the observations between two readings of
// ingesttest.Histogram.
func tailBetween(before, after map[float64]float64) durationTail {
	bounds := make([]float64, 0, len(after))
	for le := range after {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	t := durationTail{N: after[math.Inf(1)] - before[math.Inf(1)]}
	if t.N == 0 {
		return t
	}
	t.Over50ms = t.N - (after[0.05] - before[0.05])
	for _, le := range bounds {
		if after[le]-before[le] >= 0.99*t.N {
			t.P99 = "≤ " + time.Duration(le*float64(time.Second)).String()
			if math.IsInf(le, 1) {
				t.P99 = "> " + time.Duration(bounds[len(bounds)-2]*float64(time.Second)).String()
			}
			break
		}
	}
	return t
}

// EventsPerSec is the acknowledged throughput.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

const token = "bench-token"

// Run executes the whole benchmark and prints a Markdown report.
func Run(ctx context.Context, o Options) error {
	tmp, err := os.MkdirTemp("", "storepulse-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	events, err := simulate(o)
	if err != nil {
		return err
	}
	first, last := covered(events)
	fmt.Fprintf(o.Out, "generated %d simulated events (%d stores), covering %s of the window ending %s, moved to end now\n",
		len(events), o.Stores, last.Sub(first).Round(time.Second), endOf(o).Format(time.RFC3339))

	db, err := influxtest.StartDir(filepath.Join(tmp, "influx"))
	if err != nil {
		return err
	}
	defer db.Stop()
	ing, err := startIngest(ctx, o.IngestBinary, filepath.Join(tmp, "ingest"), db, 0)
	if err != nil {
		return err
	}
	defer ing.stop()

	// (a) durable events through /v1/events, as fast as they are acknowledged.
	bodies := eventBodies(events, o.BatchEvents)
	a, err := postTimed(ctx, ing, bodies, o.Clients, 0)
	if err != nil {
		return fmt.Errorf("(a): %w", err)
	}
	a.Name = "(a) /v1/events, durable (fsync before 202)"
	a.Events = len(events)
	if a.DrainAfter, err = ing.waitDrained(ctx); err != nil {
		return err
	}
	if a.Lines, err = ing.metric("storepulse_ingest_rollup_lines_total"); err != nil {
		return err
	}
	rssA, err := peakRSS(ing.cmd.Process.Pid)
	if err != nil {
		return err
	}
	// (a') the same path at half that rate, for the acknowledgement latency.
	half, err := pacedRun(ctx, ing, o, a.EventsPerSec()/2, 4242, "half-")
	if err != nil {
		return fmt.Errorf("(a half): %w", err)
	}
	half.Name = fmt.Sprintf("(a) at half its rate (%.0f events/s offered)", a.EventsPerSec()/2)
	// (a'') at half the 150,000 events/s aim, the latency a busy shop sees.
	aim, err := pacedRun(ctx, ing, o, 75000, 4343, "aim-")
	if err != nil {
		return fmt.Errorf("(a aim): %w", err)
	}
	aim.Name = "(a) at 75,000 events/s offered (half the 150,000 aim)"

	// (c) raw points as line protocol through StorePulse.
	lpBodies := lineProtocolBodies(events, "lp", 5000)
	linesBefore, err := ing.metric("storepulse_ingest_rollup_lines_total")
	if err != nil {
		return err
	}
	c, err := post(ctx, ing.url+"/api/v2/write?bucket=x&precision=ns", "text/plain", lpBodies, o.Clients, 0)
	if err != nil {
		return fmt.Errorf("(c): %w", err)
	}
	c.Name = "(c) line protocol via /api/v2/write (passthrough, durable)"
	c.Events = len(events)
	if c.DrainAfter, err = ing.waitDrained(ctx); err != nil {
		return err
	}
	linesAfter, err := ing.metric("storepulse_ingest_rollup_lines_total")
	if err != nil {
		return err
	}
	c.Lines = linesAfter - linesBefore
	rss, err := peakRSS(ing.cmd.Process.Pid)
	if err != nil {
		return err
	}

	// (b) the same raw points straight into InfluxDB with the official client.
	b, err := direct(ctx, db, events, o.Clients)
	if err != nil {
		return fmt.Errorf("(b): %w", err)
	}
	// (c) passed every point through: InfluxDB holds as many as (b) wrote.
	passed, err := countPoints(ctx, db, "lp_")
	if err != nil {
		return err
	}
	raw, err := countPoints(ctx, db, "raw_")
	if err != nil {
		return err
	}
	if passed != raw || raw == 0 {
		return fmt.Errorf("(c) left %d points in InfluxDB where (b) left %d", passed, raw)
	}

	report(o.Out, o, []Result{a, half, aim, b, c}, rssA, rss)
	return nil
}

func simulate(o Options) ([]sim.Event, error) {
	return simulateSeed(o, 42, "")
}

func simulateSeed(o Options, seed uint64, idPrefix string) ([]sim.Event, error) {
	end := endOf(o)
	g, err := sim.New(sim.Config{Seed: seed, NumStores: o.Stores, Start: end.Add(-o.Span), End: end, Scale: o.Scale})
	if err != nil {
		return nil, err
	}
	var out []sim.Event
	for len(out) < o.Events {
		evs, ok := g.Next()
		if !ok {
			break
		}
		for _, e := range evs {
			if e.Time.Before(end) {
				e.ID = idPrefix + e.ID
				out = append(out, e)
			}
		}
	}
	if len(out) < o.Events {
		return nil, fmt.Errorf("simulator produced only %d events for %d stores over %s at scale %g; raise -scale or -span", len(out), o.Stores, o.Span, o.Scale)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	out = out[:o.Events]
	shiftToNow(out, now())
	return out, nil
}

// shiftToNow moves events by whole minutes so that the latest one falls in
// now's minute, or the one before when its second is still to come: their
// minutes (the rollup's window) stay the same ones relative to each other,
// and none is in the future.
func shiftToNow(events []sim.Event, now time.Time) {
	if len(events) == 0 {
		return
	}
	_, last := covered(events)
	d := now.Truncate(time.Minute).Sub(last.Truncate(time.Minute))
	if last.Add(d).After(now) {
		d -= time.Minute
	}
	for i := range events {
		events[i].Time = events[i].Time.Add(d)
	}
}

// covered is the time range events cover.
func covered(events []sim.Event) (first, last time.Time) {
	for i, e := range events {
		if i == 0 || e.Time.Before(first) {
			first = e.Time
		}
		if i == 0 || e.Time.After(last) {
			last = e.Time
		}
	}
	return first, last
}

func eventBodies(events []sim.Event, per int) [][]byte {
	loc := time.FixedZone("CST", 8*3600)
	var out [][]byte
	for i := 0; i < len(events); i += per {
		out = append(out, sim.AppendNDJSON(nil, events[i:min(i+per, len(events))], loc))
	}
	return out
}

// rawPoint encodes one event the way a user without StorePulse would store
// it: one point per event, dimensions as tags, ids and numbers as fields.
func rawPoint(enc *lineprotocol.Encoder, e *sim.Event, measurementPrefix string) {
	enc.StartLine(measurementPrefix + "_" + e.Type.String())
	for _, kv := range [][2]string{{"campaign", e.Campaign}, {"category", e.Category}, {"channel", e.Channel}, {"creative", e.Creative}, {"reason", e.Reason}, {"store", e.Store}} {
		if kv[1] != "" {
			enc.AddTag(kv[0], kv[1])
		}
	}
	enc.AddField("id", lineprotocol.MustNewValue(e.ID))
	for _, kv := range [][2]string{{"user", e.User}, {"visitor", e.Visitor}, {"order", e.Order}} {
		if kv[1] != "" {
			enc.AddField(kv[0], lineprotocol.MustNewValue(kv[1]))
		}
	}
	for _, kv := range []struct {
		k string
		v float64
	}{{"amount", e.Amount}, {"items", float64(e.Items)}, {"count", float64(e.Count)}, {"page_views", float64(e.PageViews)}, {"duration_s", e.DurationS}} {
		if kv.v != 0 {
			v, _ := lineprotocol.FloatValue(kv.v)
			enc.AddField(kv.k, v)
		}
	}
	enc.EndLine(e.Time)
}

func lineProtocolBodies(events []sim.Event, prefix string, per int) [][]byte {
	var out [][]byte
	var enc lineprotocol.Encoder
	enc.SetPrecision(lineprotocol.Nanosecond)
	for i := range events {
		rawPoint(&enc, &events[i], prefix)
		if (i+1)%per == 0 || i == len(events)-1 {
			out = append(out, bytes.Clone(enc.Bytes()))
			enc.Reset()
		}
	}
	return out
}

// post sends every body with n concurrent clients. rate, when positive,
// paces requests to that many events per second (bodies of equal size).
func post(ctx context.Context, url, contentType string, bodies [][]byte, n int, perSecond float64) (Result, error) {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	lat := make([]time.Duration, len(bodies))
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(0)
	if perSecond > 0 {
		interval = time.Duration(float64(time.Second) * float64(countLines(bodies[0])) / perSecond)
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				if interval > 0 {
					if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				t0 := time.Now()
				if err := send(ctx, client, url, contentType, bodies[i]); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	r := Result{Elapsed: time.Since(start)}
	r.P50, r.P99 = percentiles(lat)
	return r, nil
}

// postTimed posts events to /v1/events and records the spool's group
// commits meanwhile.
func postTimed(ctx context.Context, ing *ingestProc, bodies [][]byte, n int, perSecond float64) (Result, error) {
	read := func() (commits, served map[float64]float64, err error) {
		if commits, err = ingesttest.Histogram(ing.url, commitMetric, ""); err != nil {
			return nil, nil, err
		}
		served, err = ingesttest.Histogram(ing.url, requestMetric, acceptedEvents)
		if errors.Is(err, ingesttest.ErrNoHistogram) {
			served, err = map[float64]float64{}, nil // no request answered yet
		}
		return commits, served, err
	}
	commits0, served0, err := read()
	if err != nil {
		return Result{}, err
	}
	r, err := post(ctx, ing.url+"/v1/events", "application/x-ndjson", bodies, n, perSecond)
	if err != nil {
		return Result{}, err
	}
	commits1, served1, err := read()
	if err != nil {
		return Result{}, err
	}
	r.Commits, r.Served = tailBetween(commits0, commits1), tailBetween(served0, served1)
	return r, nil
}

func countLines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

func send(ctx context.Context, c *http.Client, url, contentType string, body []byte) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return nil
		case resp.StatusCode == http.StatusServiceUnavailable && attempt < 100:
			time.Sleep(200 * time.Millisecond)
		default:
			return fmt.Errorf("%s: %s", resp.Status, msg)
		}
	}
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0, 0
	}
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}

func pacedRun(ctx context.Context, ing *ingestProc, o Options, perSecond float64, seed uint64, idPrefix string) (Result, error) {
	// Fresh ids (another seed, a prefix): the first run's would all be duplicates.
	o.Events = min(int(perSecond*10), o.Events) // about ten seconds of traffic
	evs, err := simulateSeed(o, seed, idPrefix)
	if err != nil {
		return Result{}, err
	}
	before, err := ing.metric("storepulse_ingest_rollup_lines_total")
	if err != nil {
		return Result{}, err
	}
	r, err := postTimed(ctx, ing, eventBodies(evs, o.BatchEvents), o.Clients, perSecond)
	if err != nil {
		return Result{}, err
	}
	r.Events = len(evs)
	if r.DrainAfter, err = ing.waitDrained(ctx); err != nil {
		return Result{}, err
	}
	after, err := ing.metric("storepulse_ingest_rollup_lines_total")
	if err != nil {
		return Result{}, err
	}
	r.Lines = after - before
	return r, nil
}

func direct(ctx context.Context, db *influxtest.Server, events []sim.Event, n int) (Result, error) {
	client := influxdb2.NewClientWithOptions(db.URL, db.Token, influxdb2.DefaultOptions().SetUseGZip(true).SetHTTPRequestTimeout(60))
	defer client.Close()
	bodies := lineProtocolBodies(events, "raw", 5000)
	lat := make([]time.Duration, len(bodies))
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := client.WriteAPIBlocking(db.Org, db.Bucket)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				lines := strings.Split(strings.TrimSuffix(string(bodies[i]), "\n"), "\n")
				if err := w.WriteRecord(ctx, lines...); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	r := Result{Name: "(b) raw points straight into InfluxDB (official client, 5,000-line gzip batches)", Events: len(events), Elapsed: time.Since(start), Lines: float64(len(events))}
	r.P50, r.P99 = percentiles(lat)
	return r, nil
}

// countPoints counts the points of the measurements whose names start with
// prefix (every raw point has the field id).
func countPoints(ctx context.Context, db *influxtest.Server, prefix string) (int64, error) {
	ql := &influxql.Client{URL: db.URL, Token: db.Token, Database: influxtest.Database, Timeout: time.Minute}
	q := fmt.Sprintf("SELECT count(%s) FROM /^%s/", influxql.Ident("id"), regexp.QuoteMeta(prefix))
	n, err := influxql.Count(ctx, ql, q)
	if err != nil {
		return 0, fmt.Errorf("count %s points: %w", prefix, err)
	}
	return n, nil
}

// DefaultEnd is the simulated window's end unless Options.End says
// otherwise: 2026-11-24 21:00 in the stores' zone (UTC+8), an ordinary
// Tuesday evening.
func DefaultEnd() time.Time {
	return time.Date(2026, 11, 24, 21, 0, 0, 0, time.FixedZone("UTC+8", 8*3600))
}

// endOf is o's simulated window end.
func endOf(o Options) time.Time {
	if o.End.IsZero() {
		return DefaultEnd()
	}
	return o.End
}

// report prints the results; rssA is the ingest's peak RSS once (a) was
// drained, rss at the end (after the paced runs and (c)).
func report(w io.Writer, o Options, rs []Result, rssA, rss int64) {
	fmt.Fprintf(w, "\n%d events, the first of the %s simulated window ending %s (%d stores, scale %g), moved to end now; %d per /v1/events request, %d concurrent clients; ingest peak RSS %.0f MB (%.0f MB once (a) was in InfluxDB)\n\n",
		o.Events, o.Span, endOf(o).Format(time.RFC3339), o.Stores, o.Scale, o.BatchEvents, o.Clients, float64(rss)/(1<<20), float64(rssA)/(1<<20))
	fmt.Fprintln(w, "| way in | events | acknowledged events/s | ratio to (b) | request p50 | request p99 | served by the ingest: p99, over 50 ms / all | spool commits: p99, over 50 ms / all | all in InfluxDB after | end-to-end events/s | lines written per event |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var base float64
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "(b)") {
			base = r.EventsPerSec()
		}
	}
	for _, r := range rs {
		drain := r.Elapsed + r.DrainAfter
		fmt.Fprintf(w, "| %s | %d | %.0f | %.2f | %s | %s | %s | %s | %s | %.0f | %.2f |\n", r.Name, r.Events, r.EventsPerSec(), r.EventsPerSec()/base,
			r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.Served, r.Commits, drain.Round(10*time.Millisecond),
			float64(r.Events)/drain.Seconds(), r.Lines/float64(r.Events))
	}
}

type ingestProc struct {
	url string
	cmd *exec.Cmd
}

// startIngest starts binary against db; segmentBytes sets
// spool.segment_max_bytes (0: the default, 16 MiB).
func startIngest(ctx context.Context, binary, dir string, db *influxtest.Server, segmentBytes int64) (*ingestProc, error) {
	if segmentBytes <= 0 {
		segmentBytes = 16 << 20
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
influx: {url: %s, token: %q, bucket: %q, org: %q}
spool: {max_bytes: 8589934592, segment_max_bytes: %d, seal_interval: 1s, sketch_interval: 5s}
limits: {late_horizon: 240h, max_items: 10000}
auth: {tokens: [{name: bench, sha256: %s, admin: true}]}
log: {level: warn}
pprof_listen: %q
`, port, filepath.Join(dir, "data"), db.URL, db.Token, db.Bucket, db.Org, segmentBytes, auth.Hash(token), os.Getenv("STOREPULSE_BENCH_PPROF"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil { // #nosec G703 -- a temp dir of our own
		return nil, err
	}
	cmd := exec.CommandContext(ctx, binary, "--config", path) // #nosec G204 -- benchmark of our own binary
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	p := &ingestProc{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			_ = resp.Body.Close()
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("ingest did not start")
}

func (p *ingestProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

func (p *ingestProc) metric(name string) (float64, error) { return ingesttest.Metric(p.url, name) }

// waitDrained returns how long it took until every accepted item was in
// InfluxDB: the spool empty, and no late hours deferred (a backlog's late
// events are in the hourly and daily series too, which readers read below
// the consolidation watermarks).
func (p *ingestProc) waitDrained(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for ctx.Err() == nil {
		pending, err1 := p.metric("storepulse_ingest_pending_segments")
		bytes, err2 := p.metric("storepulse_ingest_spool_bytes")
		late, err3 := p.metric("storepulse_ingest_late_hours_deferred")
		if err1 == nil && err2 == nil && err3 == nil && pending == 0 && bytes == 0 && late == 0 {
			return time.Since(start), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, ctx.Err()
}

func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

func freePort() (int, error) {
	l, err := netListen()
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
