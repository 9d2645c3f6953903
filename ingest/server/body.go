package server

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// errDecompressedTooLarge stops a gzip bomb: the decompressed body is capped
// separately from the compressed one.
type errDecompressedTooLarge struct{ limit int64 }

func (e *errDecompressedTooLarge) Error() string {
	return fmt.Sprintf("decompressed body is over the limit of %d bytes", e.limit)
}

type cappedReader struct {
	r     io.Reader
	left  int64
	limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Probe one byte: exactly-at-limit bodies are fine.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, &errDecompressedTooLarge{c.limit}
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// bodyMemoryFactor is the memory a request holds per byte of its
// (decompressed) body buffer: the buffer, the parsed batch and its spool
// record, and the garbage of growing the buffer. Measured by
// TestAdmissionBoundsMemory (see docs/benchmarks.md).
const bodyMemoryFactor = 3

// defaultAdmissionWait is how long a request waits for memory before 503.
const defaultAdmissionWait = 2 * time.Second

// readChunk is the first buffer size when the body length is unknown.
const readChunk = 64 << 10

// body reads the whole request body, capped in size and decompressed if
// needed, into memory admitted by s.admit. The caller must call release
// (also after an error) once it no longer needs the bytes.
func (s *Server) body(w http.ResponseWriter, r *http.Request) ([]byte, func(), *apiError) {
	raw := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	defer func() { _ = raw.Close() }()
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return s.readAdmitted(r, raw, s.opts.MaxBodyBytes, r.ContentLength)
	case "gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, func() {}, readError(err, s.opts)
		}
		defer func() { _ = zr.Close() }()
		limit := s.opts.MaxDecompressedBytes
		return s.readAdmitted(r, &cappedReader{r: zr, left: limit, limit: limit}, limit, -1)
	default:
		return nil, func() {}, &apiError{status: http.StatusUnsupportedMediaType, kind: "unsupported_encoding",
			msg: fmt.Sprintf("Content-Encoding %q is not supported: send gzip or identity", enc)}
	}
}

// readAdmitted reads rd (at most limit bytes; sizeHint is the expected
// length or -1) into one buffer whose memory is taken from the admission
// budget before the buffer grows. It answers 413 when the body could never
// fit in the budget, 503 with Retry-After when the budget stays taken by
// other requests for the admission wait.
func (s *Server) readAdmitted(r *http.Request, rd io.Reader, limit, sizeHint int64) ([]byte, func(), *apiError) {
	var held int64
	release := func() { s.admit.release(held); held = 0 }
	grow := func(buf []byte, newCap int64) ([]byte, *apiError) {
		need := (newCap - int64(cap(buf))) * bodyMemoryFactor
		if held+need > s.admit.capacity {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, kind: "body_too_large",
				msg: fmt.Sprintf("request body is over %d bytes (decompressed), the most this instance holds in memory "+
					"for one request (memory_limit); split it into smaller requests", s.admit.capacity/bodyMemoryFactor)}
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.admissionWait())
		defer cancel()
		if err := s.admit.acquire(ctx, need, held); err != nil {
			secs := max(1, int(s.opts.RetryAfter.Seconds()))
			return nil, &apiError{status: http.StatusServiceUnavailable, kind: "overloaded", retryAfter: secs,
				msg: fmt.Sprintf("too many large requests in flight for this instance's memory; nothing was stored, retry after %ds", secs)}
		}
		held += need
		nb := make([]byte, len(buf), newCap)
		copy(nb, buf)
		return nb, nil
	}
	// The buffer doubles, but never past what one request may hold.
	maxFit := s.admit.capacity / bodyMemoryFactor
	first := int64(readChunk)
	if sizeHint >= 0 {
		first = sizeHint + 512 // room for the final read that sees EOF
	}
	buf, aerr := grow(nil, min(first, limit+1, maxFit+1))
	if aerr != nil {
		return nil, release, aerr
	}
	for {
		if len(buf) == cap(buf) {
			next := min(max(2*int64(cap(buf)), readChunk), limit+1, maxFit)
			if next <= int64(cap(buf)) {
				next = int64(cap(buf)) + 1 // the reader reports the limit, or grow answers 413
			}
			if buf, aerr = grow(buf, next); aerr != nil {
				return nil, release, aerr
			}
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, release, nil
		}
		if err != nil {
			return nil, release, readError(err, s.opts)
		}
	}
}

func (s *Server) admissionWait() time.Duration {
	if s.opts.AdmissionWait > 0 {
		return s.opts.AdmissionWait
	}
	return defaultAdmissionWait
}

// readError maps a failure to read the body to a response.
func readError(err error, opts Options) *apiError {
	var tooBig *http.MaxBytesError
	var bomb *errDecompressedTooLarge
	switch {
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, kind: "body_too_large",
			msg: fmt.Sprintf("request body is over the limit of %d bytes", opts.MaxBodyBytes)}
	case errors.As(err, &bomb):
		return &apiError{status: http.StatusRequestEntityTooLarge, kind: "body_too_large", msg: bomb.Error()}
	case isTimeout(err):
		return &apiError{status: http.StatusRequestTimeout, kind: "request_timeout",
			msg: fmt.Sprintf("the request body was not received within limits.request_timeout (%s); nothing was stored", opts.RequestTimeout)}
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{status: http.StatusBadRequest, kind: "malformed", msg: "malformed gzip body: " + redact(err.Error())}
	default:
		return &apiError{status: http.StatusBadRequest, kind: "malformed", msg: "reading request body: " + redact(err.Error())}
	}
}

// isTimeout reports a body read cut by the connection's read deadline
// (http.Server.ReadTimeout) or the request's context.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
