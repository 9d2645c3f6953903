package influx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// The client library turns a refused write into an *http2.Error from the
// answer's "code" and "message" (InfluxDB 2.x) or its X-Influxdb-Error header
// (1.8). InfluxDB 3 answers a partial write with neither:
//
//	{"error":"partial write of line protocol occurred",
//	 "data":[{"error_message":"invalid column type for column 'v', ...","line_number":2,"original_line":"..."}]}
//
// and the library then reports only "Unexpected status code 400", losing why
// the line was refused. So the transport keeps the start of every error answer
// of a write (errorBody, carried by the request's context) and reasonOf reads
// the reason from it when the library found none.

// maxErrorBody is how much of an error answer is kept (InfluxDB 3 lists up to
// 100 refused lines, each cut to 20 bytes of the line).
const maxErrorBody = 64 << 10

// maxReason bounds a reason built from an error answer.
const maxReason = 2 << 10

// errorBody receives the start of a write's error answer. One per write
// request; written by the transport before the library reads the answer, in
// the same goroutine.
type errorBody struct{ b []byte }

type errorBodyKey struct{}

// withErrorBody returns ctx carrying eb for the transport to fill.
func withErrorBody(ctx context.Context, eb *errorBody) context.Context {
	return context.WithValue(ctx, errorBodyKey{}, eb)
}

// errorBodyTransport copies the start of every 4xx/5xx answer to a request
// whose context carries an *errorBody, and hands the library the answer
// unchanged.
type errorBodyTransport struct{ base http.RoundTripper }

func (t errorBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	eb, ok := req.Context().Value(errorBodyKey{}).(*errorBody)
	if !ok || eb == nil {
		return resp, nil
	}
	head, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	eb.b = head
	body := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), errReader{rerr}, body), body}
	return resp, nil
}

// errReader returns err (nil: EOF), so a failed read of the kept head still
// reaches the library.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// reasonOf is InfluxDB's reason for refusing a write: the library's text when
// it found one, else what InfluxDB 3's answer body says.
func reasonOf(herr *http2.Error, body []byte) string {
	if herr.Err != nil || herr.Message != "" || len(body) == 0 {
		return herr.Error()
	}
	if r := bodyReason(body); r != "" {
		return r
	}
	return herr.Error()
}

// lineError is one refused line of an InfluxDB 3 answer.
type lineError struct {
	Message string `json:"error_message"`
	Line    int    `json:"line_number"`
}

// bodyReason reads {"error": ..., "data": [lineError...] or lineError} (or
// any "message"), else keeps the text; "" when there is nothing.
func bodyReason(body []byte) string {
	var v struct {
		Error   string          `json:"error"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &v) != nil {
		return clip(strings.TrimSpace(string(body)))
	}
	var b strings.Builder
	b.WriteString(v.Error)
	if v.Message != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(v.Message)
	}
	var lines []lineError
	if err := json.Unmarshal(v.Data, &lines); err != nil {
		var one lineError
		if json.Unmarshal(v.Data, &one) == nil && one.Message != "" {
			lines = []lineError{one}
		}
	}
	for i, l := range lines {
		if b.Len() >= maxReason {
			fmt.Fprintf(&b, "; and %d more", len(lines)-i)
			break
		}
		switch {
		case i > 0:
			b.WriteString("; ")
		case b.Len() > 0:
			b.WriteString(": ")
		}
		fmt.Fprintf(&b, "line %d: %s", l.Line, l.Message)
	}
	return clip(b.String())
}

func clip(s string) string {
	if len(s) <= maxReason+256 {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "") + "..."
}
