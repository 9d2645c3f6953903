package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"unicode/utf8"

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

// Hard caps on an error response, whatever the configured max_errors: the
// message (sent twice, as error and message) and the items listed. What is
// cut is counted: the message says how many bytes, truncated how many items.
const (
	maxErrorMessage  = 8 << 10
	maxErrorItems    = 1000
	maxErrorItemText = 512
)

func capText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d more bytes not shown)", len(s)-cut)
}

func (e *apiError) write(w http.ResponseWriter) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	items, trunc := e.items, e.trunc
	if len(items) > maxErrorItems {
		trunc += len(items) - maxErrorItems
		items = items[:maxErrorItems]
	}
	capped := make([]parse.ItemError, len(items))
	for i, it := range items {
		it.Field = capText(it.Field, maxErrorItemText)
		it.Reason = capText(it.Reason, maxErrorItemText)
		capped[i] = it
	}
	if len(capped) == 0 {
		capped = nil
	}
	msg := capText(e.msg, maxErrorMessage)
	writeJSON(w, e.status, errorBody{Error: msg, Kind: e.kind, Items: capped, Truncated: trunc,
		Code: influxCode(e.status), Message: msg})
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

// Patterns of server internals that must not reach a client: URLs (they may
// hold credentials), socket addresses and file paths. redact replaces them
// in error text that is sent back; the full error goes to the log.
var (
	redactURL  = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)
	redactIPv4 = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b`)
	redactIPv6 = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](?::\d+)?`)
	redactHost = regexp.MustCompile(`\b((?:tcp|udp)[46]?|unix) (\[[^\]]*\]:\d+|[^\s\[]+?)(:\s|->|$)`)
	redactPath = regexp.MustCompile(`(^|[\s"'(=,])(?:[A-Za-z]:)?/[^\s"'<>:,;)]+`)
)

// redact returns msg without URLs, socket addresses or file paths.
func redact(msg string) string {
	msg = redactURL.ReplaceAllString(msg, "<url>")
	msg = redactHost.ReplaceAllString(msg, "$1 <address>$3")
	msg = redactIPv6.ReplaceAllString(msg, "<address>")
	msg = redactIPv4.ReplaceAllString(msg, "<address>")
	msg = redactPath.ReplaceAllString(msg, "${1}<path>")
	return msg
}

// redactKeepNames is redact for /readyz: files keep their name (the
// operator needs to know which segment) but lose their directory.
func redactKeepNames(msg string) string {
	msg = redactURL.ReplaceAllString(msg, "<url>")
	msg = redactHost.ReplaceAllString(msg, "$1 <address>$3")
	msg = redactIPv6.ReplaceAllString(msg, "<address>")
	msg = redactIPv4.ReplaceAllString(msg, "<address>")
	return redactPath.ReplaceAllStringFunc(msg, func(m string) string {
		lead := ""
		if m != "" && m[0] != '/' && (len(m) < 2 || m[1] != ':') {
			lead, m = m[:1], m[1:]
		}
		return lead + path.Base(m)
	})
}
