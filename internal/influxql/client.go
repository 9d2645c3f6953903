package influxql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds one call (request and whole response).
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxResponseBytes bounds the bytes read from one response.
	DefaultMaxResponseBytes = 512 << 20
	// DefaultChunkSize is the rows per chunk of a chunked response.
	DefaultChunkSize = 10000
	// maxURLQuery is the longest URL query string sent with GET; longer
	// queries go in a POST form body.
	maxURLQuery = 8 << 10
	// maxErrorBody is how much of an error response is read for its message.
	maxErrorBody = 4 << 10
)

// Client runs InfluxQL against one database and retention policy through the
// v1 /query API. Safe for concurrent use.
type Client struct {
	// URL is InfluxDB's base URL (http://host:8086).
	URL string
	// Token is sent as "Authorization: Token <Token>" (InfluxDB 2.x and 3.x
	// tokens; "user:password" on 1.8 with authentication); empty sends none.
	Token string
	// Database and RetentionPolicy are sent as db and rp; an empty
	// RetentionPolicy means the database's default.
	Database, RetentionPolicy string
	// HTTP is the client used; nil means a plain http.Client.
	HTTP *http.Client
	// Timeout bounds each call (DefaultTimeout when 0).
	Timeout time.Duration
	// MaxResponseBytes bounds the bytes read from each response
	// (DefaultMaxResponseBytes when 0).
	MaxResponseBytes int64
}

// SplitBucket splits a configured bucket into database and retention policy:
// "db/rp" is database db, retention policy rp; "db" (or "db/") is database db
// with its default retention policy.
func SplitBucket(bucket string) (db, rp string, err error) {
	db, rp, _ = strings.Cut(bucket, "/")
	if db == "" {
		return "", "", fmt.Errorf("bucket %q names no database (database or database/retention-policy)", bucket)
	}
	if strings.Contains(rp, "/") {
		return "", "", fmt.Errorf("bucket %q has more than one / (database or database/retention-policy)", bucket)
	}
	if err := Check(db); err != nil {
		return "", "", fmt.Errorf("bucket %q: database name %w", bucket, err)
	}
	if err := Check(rp); err != nil {
		return "", "", fmt.Errorf("bucket %q: retention policy name %w", bucket, err)
	}
	return db, rp, nil
}

// Error is an error InfluxDB answered: an HTTP status other than 2xx, or a
// statement's error in a 200 response (StatusCode 200 then).
type Error struct {
	StatusCode int
	Message    string
}

func (e *Error) Error() string {
	if e.StatusCode == http.StatusOK {
		return "InfluxDB: " + e.Message
	}
	if e.Message == "" {
		return fmt.Sprintf("InfluxDB answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("InfluxDB answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Unauthorized reports whether InfluxDB rejected the credentials.
func (e *Error) Unauthorized() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// NotFound reports whether the database (or its DBRP mapping) does not exist.
func (e *Error) NotFound() bool {
	m := strings.ToLower(e.Message)
	return e.StatusCode == http.StatusNotFound || strings.Contains(m, "database not found") ||
		strings.Contains(m, "not found") || strings.Contains(m, "does not exist")
}

// TooLargeError is returned when a response exceeds MaxResponseBytes.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("InfluxDB's answer exceeds %d MiB: narrow the time range or the filters", e.Limit>>20)
}

// Series is one series (or one chunk of it) of a statement's result. With
// Options.Epoch set, times are JSON numbers; values are json.Number, string,
// bool or nil.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Column is the index of column name, or -1.
func (s *Series) Column(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

type response struct {
	Results []struct {
		StatementID int      `json:"statement_id"`
		Series      []Series `json:"series"`
		Error       string   `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// Options tune one query.
type Options struct {
	// ChunkSize is the rows per chunk (DefaultChunkSize when 0): InfluxDB
	// streams the answer in chunks of at most this many rows, which are
	// decoded one at a time.
	ChunkSize int
}

// Query runs q (one or more statements separated by ;) and calls fn for every
// series of every statement, in order, as the chunks arrive. Times are epoch
// nanoseconds. The first statement error stops the query and is returned as
// an *Error.
func (c *Client) Query(ctx context.Context, q string, o Options, fn func(stmt int, s *Series) error) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	chunk := o.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	params := url.Values{}
	params.Set("db", c.Database)
	if c.RetentionPolicy != "" {
		params.Set("rp", c.RetentionPolicy)
	}
	params.Set("epoch", "ns")
	params.Set("chunked", "true")
	params.Set("chunk_size", strconv.Itoa(chunk))
	params.Set("q", q)
	var req *http.Request
	var err error
	if enc := params.Encode(); len(enc) <= maxURLQuery {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("/query")+"?"+enc, nil)
	} else {
		params.Del("q")
		body := url.Values{"q": {q}}.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/query")+"?"+params.Encode(), strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return fmt.Errorf("InfluxQL request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return errorOf(resp)
	}
	limit := c.maxBytes()
	dec := json.NewDecoder(&limitReader{r: resp.Body, left: limit, limit: limit})
	dec.UseNumber()
	for {
		var r response
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			var tl *TooLargeError
			if errors.As(err, &tl) {
				return tl
			}
			if ctx.Err() != nil {
				return fmt.Errorf("reading InfluxDB's answer: %w", ctx.Err())
			}
			return fmt.Errorf("reading InfluxDB's answer: %w", err)
		}
		if r.Error != "" {
			return &Error{StatusCode: resp.StatusCode, Message: r.Error}
		}
		for _, res := range r.Results {
			if res.Error != "" {
				return &Error{StatusCode: resp.StatusCode, Message: res.Error}
			}
			for i := range res.Series {
				if err := fn(res.StatementID, &res.Series[i]); err != nil {
					return err
				}
			}
		}
	}
}

// Ping asks /ping (answered by 1.8, 2.x and 3.x; 3.x may require the token,
// which is sent). nil means InfluxDB answered 2xx.
func (c *Client) Ping(ctx context.Context) error {
	timeout := c.Timeout
	if timeout <= 0 || timeout > 10*time.Second {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("/ping"), nil)
	if err != nil {
		return fmt.Errorf("ping request: %w", err)
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return errorOf(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

func (c *Client) endpoint(path string) string { return strings.TrimRight(c.URL, "/") + path }

func (c *Client) maxBytes() int64 {
	if c.MaxResponseBytes > 0 {
		return c.MaxResponseBytes
	}
	return DefaultMaxResponseBytes
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Token "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The *url.Error names the URL, which may carry credentials: keep
		// only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("InfluxDB request %s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// errorOf reads an error response's message: the "error" of a JSON body
// (1.8, 3.x), the "message" (2.x), else the text.
func errorOf(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &body) == nil {
		switch {
		case body.Error != "":
			msg = body.Error
		case body.Message != "":
			msg = body.Message
		}
	}
	return &Error{StatusCode: resp.StatusCode, Message: msg}
}

// limitReader fails with *TooLargeError once more than limit bytes are read.
type limitReader struct {
	r           io.Reader
	left, limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, &TooLargeError{Limit: l.limit}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// TimeOf reads a time column value: epoch nanoseconds (a JSON number), or
// an RFC 3339 string from servers that ignore epoch.
func TimeOf(v any) (time.Time, error) {
	switch x := v.(type) {
	case json.Number:
		ns, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q is not epoch nanoseconds: %w", x, err)
		}
		return time.Unix(0, ns).UTC(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q is not RFC 3339: %w", x, err)
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("time column holds %T", v)
}

// Float reads a numeric value; ok is false for null. A value of another
// type (string, bool) is an error.
func Float(v any) (f float64, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return 0, false, fmt.Errorf("number %q: %w", x, err)
		}
		return f, true, nil
	case float64:
		return x, true, nil
	}
	return 0, false, fmt.Errorf("holds %T, not a number", v)
}

// Querier runs InfluxQL (Client does).
type Querier interface {
	Query(ctx context.Context, q string, o Options, fn func(stmt int, s *Series) error) error
}

// Latest runs q (one or more statements) and returns the latest time of
// any row in its answer; found is false when there is none.
func Latest(ctx context.Context, c Querier, q string) (latest time.Time, found bool, err error) {
	err = c.Query(ctx, q, Options{}, func(_ int, s *Series) error {
		tc := s.Column("time")
		if tc < 0 {
			return fmt.Errorf("InfluxDB answered without a time column")
		}
		for _, row := range s.Values {
			t, err := TimeOf(row[tc])
			if err != nil {
				return err
			}
			if !found || t.After(latest) {
				latest, found = t, true
			}
		}
		return nil
	})
	return latest, found, err
}

// Count runs q, a count() over one or more series or statements, and
// returns the sum of the first value column of every row: the total of a
// count split by measurement or tag.
func Count(ctx context.Context, c Querier, q string) (int64, error) {
	var n int64
	err := c.Query(ctx, q, Options{}, func(_ int, s *Series) error {
		for _, row := range s.Values {
			if len(row) < 2 {
				return fmt.Errorf("InfluxDB answered a count without a value column")
			}
			v, _, err := Float(row[1])
			if err != nil {
				return err
			}
			n += int64(v)
		}
		return nil
	})
	return n, err
}
