// Package parse turns request bodies (JSON events, pre-aggregated metrics,
// InfluxDB line protocol and CSV platform exports) into validated
// event.Batch values. A request is all-or-nothing: every function returns
// either a fully valid batch or an *Error listing the invalid items, except
// LineProtocolPartial, which takes line protocol line by line as InfluxDB
// does.
package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/storepulse/storepulse/internal/lineproto"
	"github.com/storepulse/storepulse/internal/schema"
)

// Defaults applied to zero Limits fields.
const (
	DefaultMaxItems    = 10000
	DefaultMaxErrors   = 100
	DefaultLateHorizon = 168 * time.Hour
	// DefaultHistoryHorizon is how old a history import's timestamps may be
	// (three years of 365 days).
	DefaultHistoryHorizon  = 3 * 365 * 24 * time.Hour
	DefaultFutureTolerance = 5 * time.Minute
	// MaxIDLen bounds event ids and identifier fields (user, visitor, order, sku).
	MaxIDLen = 256
	// MaxNumber bounds every number that StorePulse sums: event amounts,
	// counts, durations and prices, and the fields of summed metrics (JSON
	// or line protocol). A trillion is far above any real order, spend or
	// count, and keeps every one-minute sum finite: float64 overflows only
	// past about 1.8e308, i.e. after 1.8e296 such values.
	MaxNumber = 1e12
)

// Limits bounds one request. Zero fields take the defaults above.
type Limits struct {
	MaxItems    int           // items per request
	MaxErrors   int           // item errors listed before Truncated counts the rest
	LateHorizon time.Duration // timestamps older than Now()-LateHorizon are rejected
	// HistoryHorizon replaces LateHorizon in a history import (History):
	// how old its timestamps may be. Never shorter than LateHorizon.
	HistoryHorizon time.Duration
	// History marks a history import (history=true, admin tokens only).
	History bool
	// Location is the zone of timestamps written without a UTC offset (the
	// tz= query parameter); nil refuses such timestamps. A wall-clock time
	// that a clock change skips or repeats is read by localday.Instant's
	// rule: with the offset in force before the change.
	Location        *time.Location
	FutureTolerance time.Duration // timestamps newer than Now()+FutureTolerance are rejected
	Now             func() time.Time
	// AllowUnsigned accepts line-protocol unsigned integer fields (1u) on
	// pass-through points. Off by default: InfluxDB 1.8 refuses them
	// ("invalid number"); only turn it on for a target that takes them
	// (InfluxDB 2.x).
	AllowUnsigned bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxErrors <= 0 {
		l.MaxErrors = DefaultMaxErrors
	}
	if l.LateHorizon <= 0 {
		l.LateHorizon = DefaultLateHorizon
	}
	if l.HistoryHorizon <= 0 {
		l.HistoryHorizon = DefaultHistoryHorizon
	}
	l.HistoryHorizon = max(l.HistoryHorizon, l.LateHorizon)
	if l.FutureTolerance <= 0 {
		l.FutureTolerance = DefaultFutureTolerance
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return l
}

// Error kinds.
const (
	KindInvalidItems   = "invalid_items"   // some items failed validation; Items lists them
	KindMalformed      = "malformed"       // the body is not well-formed JSON/CSV; Items holds the position
	KindTooManyItems   = "too_many_items"  // more than Limits.MaxItems items
	KindEmpty          = "empty"           // no items in the body
	KindInvalidRequest = "invalid_request" // bad query parameters (precision, CSV mapping)
	KindInvalidMapping = "invalid_mapping" // CSV mapping does not fit the file's header
	maxQuotedValue     = 64                // longest value echoed back in a reason
	// maxEchoedName bounds a field name (e.g. an unknown JSON key) echoed in
	// ItemError.Field: a client's key is never sent back whole.
	maxEchoedName = 80
	// maxPrePerItem bounds the reading problems (unknown or duplicate keys)
	// kept per item; the rest are only counted (Error.Truncated).
	maxPrePerItem  = 16
	timeFormatHint = "RFC 3339 with offset (e.g. 2024-06-18T09:30:00+08:00) or unix milliseconds as an integer"
)

// ItemError is one problem with one item of a request.
type ItemError struct {
	Index  int    `json:"index"`           // 0-based item (or CSV data row) index
	Line   int    `json:"line,omitempty"`  // 1-based line in the body where the item starts
	Field  string `json:"field,omitempty"` // the field at fault, if any
	Reason string `json:"reason"`
	// Input is the refused line (line protocol only), cut to 256 bytes.
	Input string `json:"input,omitempty"`
}

// Error rejects a whole request. The server maps it to 400 with the JSON
// produced by MarshalJSON.
type Error struct {
	Kind      string
	Items     []ItemError
	Truncated int // item errors found but not listed in Items
	refused   int // items refused (line protocol: lines), listed or not
	msg       string
	unit      string // what an item is called in messages: item, row, line
}

// Refused is the number of items (for line protocol: lines) refused,
// listed in Items or not.
func (e *Error) Refused() int { return e.refused }

func (e *Error) noun() string {
	if e.unit == "" {
		return "item"
	}
	return e.unit
}

// Error renders the summary and every listed item error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.msg)
	if e.msg == "" {
		b.WriteString(e.Kind)
	}
	for i, it := range e.Items {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(e.formatItem(it))
	}
	if e.Truncated > 0 {
		fmt.Fprintf(&b, "; and %d more errors not listed", e.Truncated)
	}
	return b.String()
}

func (e *Error) formatItem(it ItemError) string {
	var b strings.Builder
	if e.unit == "parameter" {
		fmt.Fprintf(&b, "parameter %q: %s", it.Field, it.Reason)
		return b.String()
	}
	if e.unit == "line" {
		fmt.Fprintf(&b, "line %d", it.Line)
	} else {
		fmt.Fprintf(&b, "%s %d", e.noun(), it.Index)
		if it.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", it.Line)
		}
	}
	if it.Field != "" {
		fmt.Fprintf(&b, ": field %q", it.Field)
	}
	b.WriteString(": ")
	b.WriteString(it.Reason)
	return b.String()
}

// MarshalJSON renders the documented 400 response body:
// {"error": "...", "kind": "...", "items": [...], "truncated": N}.
func (e *Error) MarshalJSON() ([]byte, error) {
	items := e.Items
	if items == nil {
		items = []ItemError{}
	}
	b, err := json.Marshal(struct {
		Error     string      `json:"error"`
		Kind      string      `json:"kind"`
		Items     []ItemError `json:"items"`
		Truncated int         `json:"truncated"`
	}{e.Error(), e.Kind, items, e.Truncated})
	if err != nil {
		return nil, fmt.Errorf("marshal parse error: %w", err)
	}
	return b, nil
}

func newError(kind, unit, format string, args ...any) *Error {
	return &Error{Kind: kind, unit: unit, msg: fmt.Sprintf(format, args...)}
}

// collector gathers item errors up to a cap.
type collector struct {
	items     []ItemError
	max       int
	truncated int
	bad       map[int]struct{} // item indexes with at least one error
	unit      string
	hints     int // suggestions computed so far (bounded by max)
}

func newCollector(max int, unit string) *collector {
	return &collector{max: max, unit: unit}
}

func (c *collector) add(index, line int, field, reason string) {
	c.addN(index, line, field, reason, 1)
}

// addN records n errors of one item; only the first can be listed (the
// others are counted as truncated, e.g. keys beyond maxPrePerItem).
func (c *collector) addN(index, line int, field, reason string, n int) {
	if n <= 0 {
		return
	}
	if c.bad == nil {
		c.bad = make(map[int]struct{})
	}
	c.bad[index] = struct{}{}
	if len(c.items) >= c.max {
		c.truncated += n
		return
	}
	c.items = append(c.items, ItemError{Index: index, Line: line, Field: shortName(field), Reason: reason})
	c.truncated += n - 1
}

// hint returns a "did you mean" suggestion for an unknown key while the
// request's budget of suggestions (one per listable error) lasts: a body of
// many unknown keys costs no more than one with few.
func (c *collector) hint(key string, allowed fieldSet) string {
	if c.hints >= c.max {
		return ""
	}
	c.hints++
	return suggest(key, allowed)
}

// shortName bounds a field name echoed back to the client.
func shortName(s string) string {
	if len(s) <= maxEchoedName {
		return s
	}
	cut := maxEchoedName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("...(%d bytes)", len(s))
}

func (c *collector) addf(index, line int, field, format string, args ...any) {
	c.add(index, line, field, fmt.Sprintf(format, args...))
}

func (c *collector) failed() bool { return len(c.items)+c.truncated > 0 }

func (c *collector) err(total int) *Error {
	return &Error{
		Kind:      KindInvalidItems,
		Items:     c.items,
		Truncated: c.truncated,
		refused:   len(c.bad),
		unit:      c.unit,
		msg:       fmt.Sprintf("%d of %d %ss invalid, request rejected", len(c.bad), total, c.unit),
	}
}

// readBody reads the whole (size-capped) body. Read errors are returned
// wrapped, not as *Error, so the server can map e.g. *http.MaxBytesError to 413.
// A *bytes.Buffer (the server's admitted body) is taken without a copy.
func readBody(r io.Reader) ([]byte, error) {
	if buf, ok := r.(*bytes.Buffer); ok {
		return buf.Bytes(), nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}

// timeWindow checks timestamps against the accepted window.
type timeWindow struct {
	min, max     time.Time
	minNS, maxNS int64
	ahead        time.Duration
	tooOld       string // the reason after the time, naming the setting and the way
}

func newTimeWindow(lim Limits) timeWindow {
	now := lim.Now()
	w := timeWindow{
		min:   now.Add(-lim.LateHorizon),
		max:   now.Add(lim.FutureTolerance),
		ahead: lim.FutureTolerance,
		tooOld: fmt.Sprintf("is older than the late-data horizon (limits.late_horizon: %s before now); "+
			"import older data as history: POST it to /v1/import/csv, /v1/events or /v1/metrics with the query "+
			"parameter history=true and an admin token (accepted back to limits.history_horizon: %s; see docs/import-csv.md)", lim.LateHorizon, lim.HistoryHorizon),
	}
	if lim.History {
		w.min = now.Add(-lim.HistoryHorizon)
		w.tooOld = fmt.Sprintf("is older than the history horizon (limits.history_horizon: %s before now)", lim.HistoryHorizon)
	}
	w.minNS, w.maxNS = w.min.UnixNano(), w.max.UnixNano()
	return w
}

// checkTime returns t in unix ns when inside the window, else the reason.
// Comparing time.Time values first keeps years outside int64 ns range safe.
func (w timeWindow) checkTime(t time.Time) (int64, string) {
	switch {
	case t.Before(w.min):
		return 0, "time " + t.UTC().Format(time.RFC3339Nano) + " " + w.tooOld
	case t.After(w.max):
		return 0, fmt.Sprintf("time %s is in the future (more than %s after now)",
			t.UTC().Format(time.RFC3339Nano), w.ahead)
	}
	return t.UnixNano(), ""
}

// checkText validates a tag value (maxLen schema.MaxTagValueLen) or an
// identifier (maxLen MaxIDLen); it returns "" when s is acceptable.
func checkText(s string, maxLen int) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > maxLen {
		return fmt.Sprintf("must be at most %d bytes, got %d", maxLen, len(s))
	}
	// Fast path: printable ASCII needs no rune decoding.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return checkRunes(s)
		}
	}
	return ""
}

func checkRunes(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("must not contain control characters, got %s", quote(s))
		}
	}
	return ""
}

// checkTag validates a tag value. Besides checkText's rules it refuses a
// trailing backslash: line protocol cannot represent one (InfluxDB 1.8
// answers "invalid tag format" whatever the escaping), so such a value could
// never be written.
func checkTag(s string) string { return checkName(s) }

// checkName validates a measurement name, tag key, tag value or field key:
// checkText's rules with schema.MaxTagValueLen, and what line protocol
// cannot represent (lineproto.ValidName): a trailing backslash, or a
// backslash right before ",", "=" or " ".
func checkName(s string) string {
	if reason := checkText(s, schema.MaxTagValueLen); reason != "" {
		return reason
	}
	if err := lineproto.ValidName(s); err != nil {
		return "cannot be stored in InfluxDB: it " + err.Error() + "; got " + quote(s)
	}
	return ""
}

// checkNumber bounds a summed number to MaxNumber; x is already known to be
// finite and non-negative.
func checkNumber(x float64, literal string) string {
	if x > MaxNumber {
		return fmt.Sprintf("must be at most %g, got %s", MaxNumber, literal)
	}
	return ""
}

// quote renders a value for an error message, shortened.
func quote(s string) string {
	if len(s) > maxQuotedValue {
		cut := maxQuotedValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}
