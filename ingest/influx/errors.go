package influx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// Error is every error this package returns. It says who caused it, so the
// server can answer 502/503 for an InfluxDB problem and 500 for its own.
type Error struct {
	// Op is the operation: "write", "query", "ready", "deadletter" or "config".
	Op string
	// StatusCode is InfluxDB's HTTP status, 0 when there was no response.
	StatusCode int
	// Downstream is true when InfluxDB caused the failure: unreachable, timed
	// out, overloaded, failing, or refusing our credentials or bucket.
	// False when StorePulse did: bad config, bad query, local I/O, or the
	// caller's context ending before InfluxDB was ever asked.
	Downstream bool
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("influx ")
	b.WriteString(e.Op)
	if e.Downstream {
		b.WriteString(": downstream InfluxDB error")
	} else {
		b.WriteString(": storepulse error")
	}
	if e.StatusCode != 0 {
		b.WriteString(" (HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsDownstream reports whether err (or an error it wraps) is an *Error caused
// by InfluxDB.
func IsDownstream(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Downstream
}

// Error classes, the values of the write_errors_total "class" label.
const (
	ClassNetwork    = "network"    // connection refused/reset, DNS, ...
	ClassTimeout    = "timeout"    // per-request timeout
	ClassThrottled  = "throttled"  // 429
	ClassServer     = "server"     // 5xx
	ClassAuth       = "auth"       // 401, 403
	ClassNotFound   = "not_found"  // 404: bucket or org missing
	ClassTooLarge   = "too_large"  // 413
	ClassInvalid    = "invalid"    // 400, 422 and other 4xx: dead-lettered
	ClassUnexpected = "unexpected" // anything else (1xx/3xx): retried
)

type action int

const (
	actRetry action = iota
	actSplit
	actDeadLetter
)

// classify maps a write failure to its class and what to do about it. Only
// data InfluxDB says is invalid is set aside; everything that may heal (outage,
// overload, an operator fixing a token or creating a bucket) is retried.
func classify(err *http2.Error) (string, action) {
	switch code := err.StatusCode; {
	case code == 0:
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return ClassTimeout, actRetry
		}
		return ClassNetwork, actRetry
	case code == http.StatusTooManyRequests:
		return ClassThrottled, actRetry
	case code >= 500:
		return ClassServer, actRetry
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return ClassAuth, actRetry
	case code == http.StatusNotFound:
		return ClassNotFound, actRetry
	case code == http.StatusRequestTimeout:
		// A request timeout says nothing about the data.
		return ClassTimeout, actRetry
	case code == http.StatusRequestEntityTooLarge:
		return ClassTooLarge, actSplit
	case code >= 400:
		return ClassInvalid, actDeadLetter
	default:
		return ClassUnexpected, actRetry
	}
}

// queryDownstream says whether a failed query is InfluxDB's fault: a 400/422
// means our Flux was wrong.
func queryDownstream(status int) bool {
	switch {
	case status == 0, status >= 500, status == http.StatusTooManyRequests,
		status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusRequestTimeout:
		return true
	default:
		return false
	}
}

// maxRetryAfter bounds a server's Retry-After so a bogus header cannot park
// the flusher for hours; ctx still ends any wait earlier.
const maxRetryAfter = 5 * time.Minute

// retryAfter returns the server's requested delay: delta-seconds (parsed by
// the client library) or an HTTP date (which the library ignores).
func retryAfter(err *http2.Error, now time.Time) time.Duration {
	var d time.Duration
	if err.RetryAfter > uint(maxRetryAfter/time.Second) {
		return maxRetryAfter
	}
	if err.RetryAfter > 0 {
		d = time.Duration(err.RetryAfter) * time.Second // #nosec G115 -- bounded just above
	} else if err.Header != nil {
		if v := err.Header.Get("Retry-After"); v != "" {
			if t, perr := http.ParseTime(v); perr == nil {
				d = t.Sub(now)
			}
		}
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// redacted hides a secret that a server (or proxy) echoed into an error
// message. It deliberately does not unwrap: the wrapped error's text still
// holds the secret.
type redacted struct{ msg string }

func (r *redacted) Error() string { return r.msg }

// scrub returns err with every occurrence of secret replaced.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]")}
}

// scrubString is scrub for plain text.
func scrubString(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[REDACTED]")
}
