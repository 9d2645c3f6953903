package server

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// body returns the request body capped in size and decompressed if needed.
// The caller closes the returned closer.
func (s *Server) body(w http.ResponseWriter, r *http.Request) (io.Reader, func(), *apiError) {
	raw := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return raw, func() { _ = raw.Close() }, nil
	case "gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			_ = raw.Close()
			return nil, nil, readError(err, s.opts)
		}
		return &cappedReader{r: zr, left: s.opts.MaxDecompressedBytes, limit: s.opts.MaxDecompressedBytes},
			func() { _ = zr.Close(); _ = raw.Close() }, nil
	default:
		_ = raw.Close()
		return nil, nil, &apiError{status: http.StatusUnsupportedMediaType, kind: "unsupported_encoding",
			msg: fmt.Sprintf("Content-Encoding %q is not supported: send gzip or identity", enc)}
	}
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
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{status: http.StatusBadRequest, kind: "malformed", msg: "malformed gzip body: " + err.Error()}
	default:
		return &apiError{status: http.StatusBadRequest, kind: "malformed", msg: "reading request body: " + err.Error()}
	}
}
