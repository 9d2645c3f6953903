// Package influx is the only place the ingest service talks to InfluxDB.
//
// It wraps one influxdb2.Client (influxdb-client-go v2) and adds what the
// library's WriteAPIBlocking leaves out. WriteAPIBlocking without
// EnableBatching sends exactly one HTTP request per WriteRecord call: it does
// not batch and does not retry (the library's retry queue only serves the
// non-blocking WriteAPI), so the retry here is the only one. Errors come back
// as *api/http.Error carrying StatusCode, RetryAfter (delta-seconds only) and
// the response Header.
//
// Write policy, per batch of Config.BatchLines lines:
//   - 2xx: done.
//   - network errors, timeouts, 408, 429, 5xx, and 401/403/404: retried with
//     exponential backoff and jitter, honouring Retry-After, until ctx ends.
//     A bad token or a missing bucket is an operator error that will be fixed;
//     data is never dropped for it.
//   - 413: the batch is halved and each half written (recursively).
//   - 400 (including "partial write", field type conflicts), 422 and other
//     4xx: InfluxDB says some of the data is invalid. A batch mixes lines of
//     many requests (and clients), and InfluxDB 1.8 refuses a whole batch in
//     which one field has two types, so the batch is bisected: each half is
//     written again (recursively) until the lines InfluxDB refuses are found
//     one by one. Only those single lines go to the dead-letter directory,
//     so replaying the dead-letter file never writes anything twice; Write
//     goes on. Rewriting the accepted lines of a partially written batch is
//     harmless: the same point (series and time) is overwritten with the same
//     value. Finding k bad lines among n costs at most about 2k*log2(n)
//     requests.
//
// The dead-letter record and the logs carry InfluxDB's reason: the library's
// text (2.x "code: message", 1.8's X-Influxdb-Error), or, for InfluxDB 3's
// answers, which the library cannot read, the "error" and per-line
// "error_message" of the answer body (errbody.go).
//
// Every returned error is an *Error that says whether InfluxDB (Downstream)
// or StorePulse caused it. The token never appears in logs or errors.
package influx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultBatchLines = 5000
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultConcurrency batches are in flight at once: a write waits mostly
	// on InfluxDB, so one at a time leaves both ends idle (measured: the
	// ingest process at 30% of a core and InfluxDB at 40% while draining).
	DefaultConcurrency = 4
)

// Config configures the client.
type Config struct {
	URL    string // base URL, e.g. http://influxdb:8086
	Token  string // API token (2.x) or "user:password" (1.8); empty when auth is off
	Org    string // required by InfluxDB 2.x, ignored by 1.8
	Bucket string // bucket (2.x) or "database/retention-policy" (1.8)
	// Timeout bounds each HTTP request, including reading a query's result
	// (http.Client.Timeout). Default 10s.
	Timeout time.Duration
	// BatchLines is the most lines sent in one write request. Default 5000.
	BatchLines int
	// Concurrency is how many batches of one Write are in flight at once. Default 4.
	Concurrency int
	// MinBackoff and MaxBackoff bound the retry delay. Default 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// DeadLetterDir receives batches InfluxDB rejects as invalid. Required;
	// created if missing.
	DeadLetterDir string
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BatchLines == 0 {
		c.BatchLines = DefaultBatchLines
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	return c
}

func (c Config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error quotes the URL, which may carry credentials.
		return errors.New("url: not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want http(s)://host[:port]", u.Redacted())
	}
	switch {
	case c.Bucket == "":
		return errors.New("bucket is required")
	case c.DeadLetterDir == "":
		return errors.New("dead-letter dir is required")
	case c.Timeout < 0:
		return errors.New("timeout must not be negative")
	case c.BatchLines < 0:
		return errors.New("batch lines must not be negative")
	case c.MinBackoff < 0 || c.MaxBackoff < 0:
		return errors.New("backoff must not be negative")
	case c.MinBackoff > c.MaxBackoff:
		return fmt.Errorf("min backoff %s exceeds max backoff %s", c.MinBackoff, c.MaxBackoff)
	}
	return nil
}

// Client writes to and queries one InfluxDB bucket. It is safe for concurrent
// use.
type Client struct {
	cfg       Config
	log       *slog.Logger
	m         *Metrics
	http      *http.Client
	client    influxdb2.Client
	writer    api.WriteAPIBlocking
	dl        *deadLetter
	healthURL string
	safeURL   string // URL without credentials, for logs

	lastWrite atomic.Int64 // unix nanoseconds of the last accepted batch

	streakMu sync.Mutex
	streak   streak
}

// streak tracks consecutive write failures so each kind is logged once, not
// once per retry.
type streak struct {
	class    string
	status   int
	failures int
	since    time.Time
}

// New validates cfg, applies defaults and creates the client. It does not
// contact InfluxDB (see Ready). logger and m may be nil.
func New(cfg Config, logger *slog.Logger, m *Metrics) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, &Error{Op: "config", Err: err}
	}
	if err := os.MkdirAll(cfg.DeadLetterDir, 0o750); err != nil {
		return nil, &Error{Op: "config", Err: fmt.Errorf("create dead-letter dir: %w", err)}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	u, _ := url.Parse(cfg.URL) // validated above
	healthURL := u.JoinPath("health").String()

	// One http.Client for writes, queries and health checks. The library's
	// own timeout option is ignored once a client is set, so ours carries it.
	tr, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, &Error{Op: "config", Err: errors.New("http.DefaultTransport is not an *http.Transport")}
	}
	tr = tr.Clone()
	tr.MaxIdleConnsPerHost = 8
	hc := &http.Client{Timeout: cfg.Timeout, Transport: errorBodyTransport{base: tr}}

	opts := influxdb2.DefaultOptions().
		SetHTTPClient(hc).
		SetUseGZip(true).
		SetApplicationName("storepulse-ingest").
		SetPrecision(time.Nanosecond).
		// Only used by the non-blocking WriteAPI; zero documents that no
		// retry hides under ours.
		SetMaxRetries(0)
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)

	return &Client{
		cfg:       cfg,
		log:       logger,
		m:         m,
		http:      hc,
		client:    client,
		writer:    client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		dl:        &deadLetter{dir: cfg.DeadLetterDir},
		healthURL: healthURL,
		safeURL:   u.Redacted(),
	}, nil
}

// Bucket is the configured bucket, for callers building Flux queries.
func (c *Client) Bucket() string { return c.cfg.Bucket }

// Org is the configured organisation.
func (c *Client) Org() string { return c.cfg.Org }

// Write writes lines (one line-protocol record each, nanosecond precision) in
// batches of Config.BatchLines, up to Config.Concurrency batches at once. It
// returns nil once every batch was accepted or dead-lettered. It retries until
// ctx ends and then returns an *Error wrapping both the last InfluxDB failure
// and ctx.Err(); batches that succeeded stay written, which is harmless
// because StorePulse's points are idempotent.
func (c *Client) Write(ctx context.Context, lines []string) error {
	var batches [][]string
	for len(lines) > 0 {
		n := min(len(lines), c.cfg.BatchLines)
		batches = append(batches, lines[:n])
		lines = lines[n:]
	}
	if len(batches) <= 1 || c.cfg.Concurrency <= 1 {
		for _, b := range batches {
			if err := c.writeBatch(ctx, b, 0); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan []string)
	errs := make(chan error, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for range min(c.cfg.Concurrency, len(batches)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				if err := c.writeBatch(ctx, b, 0); err != nil {
					errs <- err
					cancel() // the others stop retrying too: the caller retries the whole write
					return
				}
			}
		}()
	}
feed:
	for _, b := range batches {
		select {
		case next <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err, ok := <-errs; ok {
		return err
	}
	return ctx.Err()
}

// writeBatch writes one batch; depth is how many times it was halved to get
// here (0: a batch of Write).
func (c *Client) writeBatch(ctx context.Context, batch []string, depth int) error {
	var last *Error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return giveUp(err, last, attempt)
		}
		if attempt > 0 {
			c.m.Retries.Inc()
		}
		start := time.Now()
		var eb errorBody
		err := c.writer.WriteRecord(withErrorBody(ctx, &eb), batch...)
		c.m.WriteDuration.Observe(time.Since(start).Seconds())
		if err == nil {
			c.succeeded(ctx, len(batch))
			return nil
		}
		var herr *http2.Error
		if !errors.As(err, &herr) {
			herr = http2.NewError(err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil && herr.StatusCode == 0 {
			// The caller's context ended while InfluxDB had not answered yet:
			// that is still InfluxDB not answering, so blame it (keeping an
			// earlier failure, whose status says more).
			c.m.WriteErrors.WithLabelValues(ClassTimeout).Inc()
			if last == nil {
				last = &Error{Op: "write", Downstream: true, Err: errors.New("no answer from InfluxDB")}
			}
			return giveUp(ctxErr, last, attempt+1)
		}
		class, act := classify(herr)
		c.m.WriteErrors.WithLabelValues(class).Inc()
		switch act {
		case actSplit:
			if len(batch) > 1 {
				half := len(batch) / 2
				c.log.WarnContext(ctx, "InfluxDB: request too large, splitting the batch",
					"lines", len(batch), "halves", []int{half, len(batch) - half})
				return c.writeHalves(ctx, batch, depth)
			}
			// One line InfluxDB will never take: set it aside like invalid data.
			return c.deadLetter(ctx, batch, herr, eb.b)
		case actDeadLetter:
			if len(batch) > 1 {
				// Find the refused lines: never set aside the good lines
				// (often another client's) that share the batch.
				c.m.Bisections.Inc()
				reason := scrubString(reasonOf(herr, eb.b), c.cfg.Token)
				if depth == 0 {
					c.log.WarnContext(ctx, "InfluxDB refused a batch as invalid; writing it in halves to find the refused lines",
						"status", herr.StatusCode, "reason", reason, "lines", len(batch))
				} else {
					c.log.DebugContext(ctx, "InfluxDB refused part of a batch; halving it again",
						"status", herr.StatusCode, "reason", reason, "lines", len(batch), "depth", depth)
				}
				return c.writeHalves(ctx, batch, depth)
			}
			return c.deadLetter(ctx, batch, herr, eb.b)
		case actRetry:
		}
		if herr.Err == nil && herr.Message == "" && len(eb.b) > 0 {
			// The library found no reason (InfluxDB 3's answer shape): say what
			// InfluxDB said in the logs and the returned error.
			herr.Err = errors.New(reasonOf(herr, eb.b))
		}
		last = &Error{Op: "write", StatusCode: herr.StatusCode, Downstream: true, Err: scrub(herr, c.cfg.Token)}
		c.failed(ctx, class, herr.StatusCode, last)
		wait := retryAfter(herr, time.Now())
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if !sleep(ctx, wait) {
			return giveUp(ctx.Err(), last, attempt+1)
		}
	}
}

// writeHalves writes batch as two halves, one after the other.
func (c *Client) writeHalves(ctx context.Context, batch []string, depth int) error {
	half := len(batch) / 2
	if err := c.writeBatch(ctx, batch[:half], depth+1); err != nil {
		return err
	}
	return c.writeBatch(ctx, batch[half:], depth+1)
}

// giveUp builds the error returned when ctx ends: it blames InfluxDB if
// InfluxDB had failed, the caller otherwise.
func giveUp(ctxErr error, last *Error, attempts int) error {
	if last == nil {
		return &Error{Op: "write", Err: ctxErr}
	}
	return &Error{
		Op:         "write",
		StatusCode: last.StatusCode,
		Downstream: true,
		Err:        fmt.Errorf("gave up after %d attempts: %w: %w", attempts, last.Err, ctxErr),
	}
}

// backoff is the delay after the attempt-th consecutive failure: MinBackoff
// doubled per failure, capped at MaxBackoff, with "equal jitter" (half fixed,
// half random) so retries still grow but many writers do not march in step.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.MinBackoff
	for i := 0; i < attempt && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	half := d / 2
	return half + rand.N(d-half+1) // #nosec G404 -- jitter needs no cryptographic randomness
}

// sleep waits d or until ctx ends; it reports whether it waited fully.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deadLetter sets batch aside with InfluxDB's reason for refusing it (from
// herr, or from body, the start of InfluxDB's answer).
func (c *Client) deadLetter(ctx context.Context, batch []string, herr *http2.Error, body []byte) error {
	reason := scrubString(reasonOf(herr, body), c.cfg.Token)
	rec := DeadLetterRecord{
		Time:   time.Now().UTC(),
		Status: herr.StatusCode,
		Reason: reason,
		Bucket: c.cfg.Bucket,
		Lines:  batch,
	}
	path, err := c.dl.append(rec)
	if err != nil {
		// Not written anywhere: the caller must keep the data and retry.
		return &Error{Op: "deadletter", Err: fmt.Errorf("InfluxDB rejected %d lines (HTTP %d: %s) and setting them aside failed: %w",
			len(batch), herr.StatusCode, reason, err)}
	}
	c.m.DeadLetteredBatches.Inc()
	c.m.DeadLetteredLines.Add(float64(len(batch)))
	c.log.ErrorContext(ctx, "InfluxDB refused a line as invalid; written to the dead-letter file",
		"status", herr.StatusCode, "reason", reason, "lines", len(batch), "file", path)
	return nil
}

func (c *Client) succeeded(ctx context.Context, lines int) {
	now := time.Now()
	c.lastWrite.Store(now.UnixNano())
	c.m.LinesWritten.Add(float64(lines))
	c.m.LastSuccess.Set(float64(now.UnixNano()) / 1e9)

	c.streakMu.Lock()
	s := c.streak
	c.streak = streak{}
	c.streakMu.Unlock()
	if s.class != "" {
		c.log.InfoContext(ctx, "InfluxDB writes recovered",
			"failed_attempts", s.failures, "down_for", now.Sub(s.since).Round(time.Millisecond).String())
	}
}

// failed logs the first failure of each kind in a streak: an operator error
// (401/403/404) at error level, transient ones at warn; repeats at debug.
func (c *Client) failed(ctx context.Context, class string, status int, err error) {
	c.streakMu.Lock()
	s := &c.streak
	s.failures++
	if s.since.IsZero() {
		s.since = time.Now()
	}
	repeat := s.class == class && s.status == status
	s.class, s.status = class, status
	failures := s.failures
	c.streakMu.Unlock()

	attrs := []any{"class", class, "status", status, "url", c.safeURL, "bucket", c.cfg.Bucket,
		"failed_attempts", failures, "error", err.Error()}
	switch {
	case repeat:
		c.log.DebugContext(ctx, "InfluxDB write failed again, retrying", attrs...)
	case class == ClassAuth || class == ClassNotFound:
		c.log.ErrorContext(ctx, "InfluxDB refuses writes: check the token, org and bucket; retrying, no data is dropped", attrs...)
	default:
		c.log.WarnContext(ctx, "InfluxDB write failed, retrying", attrs...)
	}
}

// LastWrite is when InfluxDB last accepted a batch (zero: never). The server
// derives ingest lag from it; Metrics.LastSuccess exports the same.
func (c *Client) LastWrite() time.Time {
	ns := c.lastWrite.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// QueryAPI returns the library's query API for the configured org. Requests
// are bounded by Config.Timeout.
func (c *Client) QueryAPI() api.QueryAPI { return c.client.QueryAPI(c.cfg.Org) }

// Query runs a Flux query. The request, including reading the result, is
// bounded by Config.Timeout (the shared http.Client's timeout) as well as
// ctx. The caller must Close the result and check its Err.
func (c *Client) Query(ctx context.Context, flux string) (*api.QueryTableResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "query", Err: err} // InfluxDB was never asked
	}
	res, err := c.QueryAPI().Query(ctx, flux)
	if err != nil {
		status := 0
		var herr *http2.Error
		if errors.As(err, &herr) {
			status = herr.StatusCode
		}
		return nil, &Error{Op: "query", StatusCode: status, Downstream: queryDownstream(status), Err: scrub(err, c.cfg.Token)}
	}
	return res, nil
}

// Ready reports whether InfluxDB is reachable and healthy: GET /health answers
// 200 with status "pass" (InfluxDB 1.8 and 2.x alike). It does not check the
// token or the bucket; writes report those.
func (c *Client) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: "ready", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.healthURL, nil)
	if err != nil {
		return &Error{Op: "ready", Err: fmt.Errorf("build health request: %w", err)}
	}
	if c.cfg.Token != "" {
		// InfluxDB 3.x asks for the token on /health; 1.8 and 2.x ignore it.
		req.Header.Set("Authorization", "Token "+c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: "ready", Downstream: true, Err: scrub(err, c.cfg.Token)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return &Error{Op: "ready", StatusCode: resp.StatusCode, Downstream: true, Err: fmt.Errorf("read health response: %w", err)}
	}
	if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "OK" {
		return nil // InfluxDB 3.x: plain text
	}
	var h struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if jerr := json.Unmarshal(body, &h); jerr != nil && resp.StatusCode == http.StatusOK {
		return &Error{Op: "ready", StatusCode: resp.StatusCode, Downstream: true, Err: fmt.Errorf("decode health response: %w", jerr)}
	}
	if resp.StatusCode != http.StatusOK || h.Status != "pass" {
		return &Error{Op: "ready", StatusCode: resp.StatusCode, Downstream: true,
			Err: fmt.Errorf("health check: status %q: %s", h.Status, scrubString(h.Message, c.cfg.Token))}
	}
	return nil
}

// Close releases the client's connections. Write and Query must not be called
// afterwards.
func (c *Client) Close() {
	c.client.Close()
	c.http.CloseIdleConnections()
}
