package sim

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxBatch is the most events the simulator sends in one request (the API
// accepts 10,000; half keeps requests small and retries cheap).
const MaxBatch = 5000

// ClientOptions configures a Client.
type ClientOptions struct {
	URL   string // base URL of the ingest service, e.g. http://localhost:8080
	Token string // bearer token
	// Timeout bounds one HTTP attempt (default 30s).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one request (default 12).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts when the server gives no Retry-After (defaults 250ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
	// HTTPClient replaces the default client (its Timeout is kept).
	HTTPClient *http.Client
}

// Client talks to the ingest HTTP API: events, campaigns and targets, with
// retries that resend the same body (event ids make that safe).
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	opt   ClientOptions
	log   *slog.Logger
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	jitter *rand.Rand
}

// Result is the ingest service's answer to an events request.
type Result struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// HTTPError is a non-retryable (or finally failed) HTTP answer.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("sim: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// NewClient returns a client for the ingest service at o.URL.
func NewClient(o ClientOptions) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("sim: ingest url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("sim: ingest url %q: want http or https", o.URL)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	hc := &http.Client{Timeout: o.Timeout}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		c.Timeout = o.Timeout
		hc = &c
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		base: u, token: o.Token, http: hc, opt: o, log: log, sleep: sleepCtx,
		//nolint:gosec // backoff jitter, not security
		jitter: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x51)),
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("sim: wait before retry: %w", context.Cause(ctx))
	case <-t.C:
		return nil
	}
}

// SendEvents posts events (at most 10,000) as gzipped NDJSON with times in
// loc, retrying the same body on 503/429/5xx and network errors.
func (c *Client) SendEvents(ctx context.Context, events []Event, loc *time.Location) (Result, error) {
	var res Result
	if len(events) == 0 {
		return res, nil
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	if _, err := zw.Write(AppendNDJSON(nil, events, loc)); err != nil {
		return res, fmt.Errorf("sim: gzip events: %w", err)
	}
	if err := zw.Close(); err != nil {
		return res, fmt.Errorf("sim: gzip events: %w", err)
	}
	body, err := c.do(ctx, http.MethodPost, "/v1/events", "application/x-ndjson", zb.Bytes(), true)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("sim: POST /v1/events: decode answer %q: %w", truncate(body), err)
	}
	return res, nil
}

// PutCampaigns stores the campaign calendar.
func (c *Client) PutCampaigns(ctx context.Context, cs []Campaign) error {
	return putJSON(ctx, c, "/v1/campaigns", cs, 500)
}

// PutTargets stores the targets, a chunk of 5,000 per request.
func (c *Client) PutTargets(ctx context.Context, ts []Target) error {
	return putJSON(ctx, c, "/v1/targets", ts, MaxBatch)
}

func putJSON[T any](ctx context.Context, c *Client, path string, items []T, chunk int) error {
	for len(items) > 0 {
		n := min(chunk, len(items))
		b, err := json.Marshal(items[:n])
		if err != nil {
			return fmt.Errorf("sim: encode %s: %w", path, err)
		}
		if _, err := c.do(ctx, http.MethodPut, path, "application/json", b, false); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// do sends one request, retrying with backoff; a Retry-After header sets the
// wait. The body is resent unchanged.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, gzipped bool) ([]byte, error) {
	var lastErr error
	for attempt := 0; attempt < c.opt.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, c.wait(attempt, lastErr)); err != nil {
				return nil, errors.Join(err, lastErr)
			}
		}
		resp, err := c.attempt(ctx, method, path, contentType, body, gzipped)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("sim: %s %s: %w", method, path, err)
			}
			lastErr = fmt.Errorf("sim: %s %s: %w", method, path, err)
			c.log.Warn("ingest request failed, retrying", "path", path, "attempt", attempt+1, "err", err)
			continue
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp.body, nil
		}
		herr := &retryableError{HTTPError{method, path, resp.status, truncate(resp.body)}, resp.retryAfter}
		if !retryableStatus(resp.status) {
			return nil, &herr.HTTPError
		}
		lastErr = herr
		c.log.Warn("ingest busy, retrying", "path", path, "status", resp.status, "attempt", attempt+1, "retry_after", resp.retryAfter)
	}
	return nil, fmt.Errorf("sim: %s %s: giving up after %d attempts: %w", method, path, c.opt.MaxAttempts, lastErr)
}

type answer struct {
	status     int
	body       []byte
	retryAfter time.Duration // -1 when absent
}

func (c *Client) attempt(ctx context.Context, method, path, contentType string, body []byte, gzipped bool) (answer, error) {
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("read answer: %w", err)
	}
	return answer{status: resp.StatusCode, body: b, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}, nil
}

// retryableError is an HTTP answer worth retrying, with the server's hint.
type retryableError struct {
	HTTPError
	retryAfter time.Duration
}

func (e *retryableError) Unwrap() error { return &e.HTTPError }

func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500
}

// wait is the pause before attempt: the server's Retry-After if it gave one,
// else exponential backoff with jitter.
func (c *Client) wait(attempt int, lastErr error) time.Duration {
	var re *retryableError
	if errors.As(lastErr, &re) && re.retryAfter >= 0 {
		return min(re.retryAfter, 5*time.Minute)
	}
	d := c.opt.MinBackoff << min(attempt-1, 20)
	d = min(d, c.opt.MaxBackoff)
	c.mu.Lock()
	f := 0.5 + c.jitter.Float64()/2
	c.mu.Unlock()
	return time.Duration(float64(d) * f)
}

// parseRetryAfter reads delta-seconds or an HTTP date; -1 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return -1
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

func truncate(b []byte) string {
	const n = 512
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
