package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/storepulse/storepulse/ingest/parse"
)

// apiError is a response that is not a success.
type apiError struct {
	status int
	kind   string
	msg    string
	items  []parse.ItemError
	trunc  int
	// retryAfter, when positive, is sent as Retry-After seconds.
	retryAfter int
}

// errorBody is the JSON of every error response. code and message follow the
// InfluxDB v2 API, so its clients print our reason.
type errorBody struct {
	Error     string            `json:"error"`
	Kind      string            `json:"kind"`
	Items     []parse.ItemError `json:"items,omitempty"`
	Truncated int               `json:"truncated,omitempty"`
	Code      string            `json:"code"`
	Message   string            `json:"message"`
}

func influxCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "unauthorized"
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusRequestEntityTooLarge:
		return "request too large"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	case status >= 500:
		return "internal error"
	default:
		return "invalid"
	}
}

func (e *apiError) write(w http.ResponseWriter) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, errorBody{Error: e.msg, Kind: e.kind, Items: e.items, Truncated: e.trunc,
		Code: influxCode(e.status), Message: e.msg})
}

func writeError(w http.ResponseWriter, status int, kind, msg string, items []parse.ItemError) {
	(&apiError{status: status, kind: kind, msg: msg, items: items}).write(w)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// parseFailure maps an error of package parse (or a body read error it
// wrapped) to a response.
func (s *Server) parseFailure(err error) *apiError {
	var pe *parse.Error
	if errors.As(err, &pe) {
		status := http.StatusBadRequest
		if pe.Kind == parse.KindTooManyItems {
			status = http.StatusRequestEntityTooLarge
		}
		return &apiError{status: status, kind: pe.Kind, msg: pe.Error(), items: pe.Items, trunc: pe.Truncated}
	}
	return readError(err, s.opts)
}

func itemError(index int, reason string) parse.ItemError {
	return parse.ItemError{Index: index, Reason: reason}
}
