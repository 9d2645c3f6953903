package parse

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/localday"
)

// Time layouts with a special meaning in CSVMapping.TimeLayout.
const (
	LayoutRFC3339 = ""        // RFC 3339 with offset (the default)
	LayoutUnixMS  = "unix_ms" // integer unix milliseconds
	LayoutUnix    = "unix"    // integer unix seconds
)

// CSVMapping maps the columns of a platform export onto event fields.
type CSVMapping struct {
	Columns    map[string]string // event field -> CSV header column
	Set        map[string]string // event field -> constant for every row ("type" included)
	TimeLayout string            // LayoutRFC3339, LayoutUnixMS, LayoutUnix or a Go time layout
	Location   *time.Location    // zone of times without an offset (tz=)
	History    bool              // history=true: a history import (admin tokens)
	Delimiter  rune              // default ','
}

// ParseCSVMapping reads the mapping from the query of POST /v1/import/csv:
// type, col.<field>, set.<field>, time_layout, tz, delimiter, history.
func ParseCSVMapping(q url.Values) (CSVMapping, error) {
	m := CSVMapping{Columns: map[string]string{}, Set: map[string]string{}, Delimiter: ','}
	e := &Error{Kind: KindInvalidRequest, unit: "parameter", msg: "invalid CSV mapping"}
	bad := func(param, format string, args ...any) {
		e.Items = append(e.Items, ItemError{Field: param, Reason: fmt.Sprintf(format, args...)})
	}
	for _, k := range sortedKeys(q) { // deterministic error order
		vals := q[k]
		if len(vals) != 1 {
			bad(k, "given %d times; give it once", len(vals))
			continue
		}
		val := vals[0]
		switch {
		case k == "u" || k == "p":
			// InfluxDB v1-style credentials; the server authenticates them.
		case k == "type":
			if _, ok := m.Set["type"]; ok {
				bad(k, "type is given twice (type and set.type)")
			}
			m.Set["type"] = val
		case strings.HasPrefix(k, "col.") || strings.HasPrefix(k, "set."):
			name := k[4:]
			if _, ok := fieldByName(name); !ok {
				reason := "unknown event field " + quote(name)
				if len(e.Items) >= DefaultMaxErrors {
					// Listed anyway (the query is bounded by the header size), but
					// without the edit-distance work.
				} else if hint := suggest(name, allFields); hint != "" {
					reason += "; did you mean " + strconv.Quote(hint) + "?"
				}
				bad(k, "%s", reason)
				continue
			}
			if k[:4] == "col." {
				if strings.TrimSpace(val) == "" {
					bad(k, "column name must not be empty")
					continue
				}
				m.Columns[name] = strings.TrimSpace(val)
			} else {
				if _, ok := m.Set[name]; ok && name == "type" {
					bad(k, "type is given twice (type and set.type)")
				}
				m.Set[name] = val
			}
		case k == "time_layout":
			if strings.EqualFold(val, "rfc3339") {
				val = LayoutRFC3339
			}
			m.TimeLayout = val
		case k == ParamTZ:
			loc, reason := LoadZone(val)
			if reason != "" {
				bad(k, "%s", reason)
				continue
			}
			m.Location = loc
		case k == ParamHistory:
			h, reason := parseHistory(val)
			if reason != "" {
				bad(k, "%s", reason)
				continue
			}
			m.History = h
		case k == "delimiter":
			if val == "tab" || val == `\t` {
				val = "\t"
			}
			r, size := utf8.DecodeRuneInString(val)
			if size != len(val) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
				bad(k, "must be a single character other than a quote or newline, got %s", quote(val))
				continue
			}
			m.Delimiter = r
		default:
			bad(k, "unknown parameter; want type, col.<field>, set.<field>, time_layout, tz, delimiter, history")
		}
	}
	for name := range m.Columns {
		if _, ok := m.Set[name]; ok {
			bad("col."+name, "field %q is given both as a column and as set.%s", name, name)
		}
	}
	if t, ok := m.Set["type"]; ok {
		if _, known := event.ParseType(t); !known {
			bad("type", "unknown type %s; want one of %s", quote(t), typeNames())
		}
	}
	for _, name := range []string{"type", "id", "time", "store"} {
		_, c := m.Columns[name]
		_, s := m.Set[name]
		if !c && !s {
			bad("col."+name, "required: map %q to a column (col.%s=<column>) or a constant (set.%s=<value>)", name, name, name)
		}
	}
	switch m.TimeLayout {
	case LayoutRFC3339, LayoutUnixMS, LayoutUnix:
	default:
		if !layoutHasZone(m.TimeLayout) && m.Location == nil {
			bad("tz", "required: time_layout %s has no UTC offset, so give the zone of the times (e.g. tz=Asia/Shanghai)", quote(m.TimeLayout))
		}
		if _, err := time.Parse(m.TimeLayout, time.Now().Format(m.TimeLayout)); err != nil || !strings.ContainsAny(m.TimeLayout, "0123456789") {
			bad("time_layout", "not a usable Go time layout: %s", quote(m.TimeLayout))
		}
	}
	if len(e.Items) > 0 {
		slices.SortStableFunc(e.Items, func(a, b ItemError) int { return strings.Compare(a.Field, b.Field) })
		return CSVMapping{}, e
	}
	return m, nil
}

func layoutHasZone(layout string) bool {
	for _, z := range []string{"Z07", "-07", "MST"} {
		if strings.Contains(layout, z) {
			return true
		}
	}
	return false
}

// csvSource is one mapped field: a column index or a constant.
type csvSource struct {
	f     fieldID
	col   int // -1 for constants
	value []byte
}

// CSV parses POST /v1/import/csv: a header row plus data rows, mapped onto
// events by m. Every row goes through the same validator as JSON events.
func CSV(r io.Reader, m CSVMapping, lim Limits) (event.Batch, error) {
	lim = WriteOptions{Location: m.Location, History: m.History}.Apply(lim).withDefaults()
	data, err := readBody(r)
	if err != nil {
		return event.Batch{}, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheet exports often start with a BOM
	cr := csv.NewReader(bytes.NewReader(data))
	if m.Delimiter != 0 {
		cr.Comma = m.Delimiter
	}
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return event.Batch{}, newError(KindEmpty, "row", "CSV body is empty; want a header row and data rows")
	}
	if err != nil {
		return event.Batch{}, csvMalformed(err, 0)
	}
	header = slices.Clone(header)
	sources, where, err := csvSources(m, header)
	if err != nil {
		return event.Batch{}, err
	}

	errs := newCollector(lim.MaxErrors, "row")
	v := newValidator(lim, errs)
	var events []event.Event
	var raw rawEvent
	raw.where = where
	n := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if n >= lim.MaxItems {
			return event.Batch{}, newError(KindTooManyItems, "row",
				"more than %d rows in one request; split the file", lim.MaxItems)
		}
		if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			// No record comes with a parse error: FieldPos would panic.
			return event.Batch{}, csvMalformed(err, n)
		}
		line, _ := cr.FieldPos(0) // a record (possibly of the wrong width) was read
		if err != nil {
			errs.addf(n, line, "", "has %d columns, the header has %d", len(rec), len(header))
			n++
			continue
		}
		raw.reset(n, line)
		for _, s := range sources {
			val := s.value
			if s.col >= 0 {
				val = []byte(strings.TrimSpace(rec[s.col]))
				if len(val) == 0 {
					continue // an empty cell is an absent optional field
				}
			}
			if s.f == fTime {
				setCSVTime(&raw, m, val, where[fTime])
				continue
			}
			raw.setVal(s.f, rawVal{kind: vText, raw: val})
		}
		var ev event.Event
		if v.event(&raw, &ev) && !errs.failed() {
			events = append(events, ev)
		}
		n++
	}
	if n == 0 {
		return event.Batch{}, newError(KindEmpty, "row", "CSV has a header but no data rows")
	}
	if errs.failed() {
		return event.Batch{}, errs.err(n)
	}
	return event.Batch{Events: events}, nil
}

func csvMalformed(err error, row int) *Error {
	e := newError(KindMalformed, "row", "malformed CSV")
	it := ItemError{Index: row, Reason: err.Error()}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		it.Line = pe.Line
		it.Reason = fmt.Sprintf("column %d: %v", pe.Column, pe.Err)
	}
	e.Items = []ItemError{it}
	return e
}

// csvSources resolves the mapping against the header.
func csvSources(m CSVMapping, header []string) ([]csvSource, *[numFields]string, error) {
	index := make(map[string]int, len(header))
	dup := make(map[string]bool)
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, ok := index[h]; ok {
			dup[h] = true
		}
		index[h] = i
	}
	var where [numFields]string
	var sources []csvSource
	e := &Error{Kind: KindInvalidMapping, unit: "parameter", msg: "CSV mapping does not fit the header"}
	for name, col := range m.Columns {
		f, ok := fieldByName(name)
		if !ok {
			e.Items = append(e.Items, ItemError{Field: "col." + name, Reason: "unknown event field"})
			continue
		}
		i, ok := index[col]
		switch {
		case !ok:
			e.Items = append(e.Items, ItemError{Field: "col." + name,
				Reason: fmt.Sprintf("column %s is not in the header (%s)", quote(col), headerList(header))})
			continue
		case dup[col]:
			e.Items = append(e.Items, ItemError{Field: "col." + name,
				Reason: fmt.Sprintf("column %s appears more than once in the header", quote(col))})
			continue
		}
		where[f] = "column " + strconv.Quote(col)
		sources = append(sources, csvSource{f: f, col: i})
	}
	for name, val := range m.Set {
		f, ok := fieldByName(name)
		if !ok {
			e.Items = append(e.Items, ItemError{Field: "set." + name, Reason: "unknown event field"})
			continue
		}
		where[f] = "set." + name
		sources = append(sources, csvSource{f: f, col: -1, value: []byte(val)})
	}
	if len(e.Items) > 0 {
		slices.SortFunc(e.Items, func(a, b ItemError) int { return strings.Compare(a.Field, b.Field) })
		return nil, nil, e
	}
	slices.SortFunc(sources, func(a, b csvSource) int { return int(a.f) - int(b.f) })
	return sources, &where, nil
}

func headerList(header []string) string {
	const maxShown = 20
	shown := header
	if len(shown) > maxShown {
		shown = shown[:maxShown]
	}
	qs := make([]string, len(shown))
	for i, h := range shown {
		qs[i] = quote(h)
	}
	s := "header: " + strings.Join(qs, ", ")
	if len(header) > maxShown {
		s += ", ..."
	}
	return s
}

// setCSVTime converts a time cell with the mapping's layout into raw.
func setCSVTime(raw *rawEvent, m CSVMapping, val []byte, where string) {
	s := string(val)
	var t time.Time
	switch m.TimeLayout {
	case LayoutRFC3339:
		raw.setVal(fTime, rawVal{kind: vText, raw: val}) // validator parses and explains
		return
	case LayoutUnixMS, LayoutUnix:
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			raw.present |= 1 << fTime // present, but invalid: do not also report it missing
			raw.v[fTime] = rawVal{kind: vInvalid}
			raw.pre = append(raw.pre, ItemError{Field: "time",
				Reason: where + ": must be an integer (time_layout=" + m.TimeLayout + "), got " + quote(s)})
			return
		}
		if m.TimeLayout == LayoutUnixMS {
			t = time.UnixMilli(x)
		} else {
			t = time.Unix(x, 0)
		}
	default:
		loc := m.Location
		if loc == nil {
			loc = time.UTC
		}
		var err error
		if layoutHasZone(m.TimeLayout) {
			t, err = time.ParseInLocation(m.TimeLayout, s, loc)
		} else if t, err = time.Parse(m.TimeLayout, s); err == nil {
			// A wall-clock reading: DST gaps and overlaps by localday's rule,
			// as for times without offset in JSON.
			t = localday.InstantOf(t, loc)
		}
		if err != nil {
			raw.present |= 1 << fTime
			raw.v[fTime] = rawVal{kind: vInvalid}
			raw.pre = append(raw.pre, ItemError{Field: "time",
				Reason: where + ": must match time_layout " + strconv.Quote(m.TimeLayout) + ", got " + quote(s)})
			return
		}
	}
	raw.setVal(fTime, rawVal{kind: vTime, t: t})
}
