package parse

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/lineproto"
	"github.com/storepulse/storepulse/internal/schema"
)

// precisionNS maps a write precision to nanoseconds per unit. Both the v1
// (n, u, ms, s, m, h) and v2 (ns, us, ms, s) spellings are accepted.
func precisionNS(p string) (int64, bool) {
	switch p {
	case "", "n", "ns":
		return 1, true
	case "u", "us", "µs":
		return int64(time.Microsecond), true
	case "ms":
		return int64(time.Millisecond), true
	case "s":
		return int64(time.Second), true
	case "m":
		return int64(time.Minute), true
	case "h":
		return int64(time.Hour), true
	}
	return 0, false
}

// LineProtocol parses POST /write and /api/v2/write bodies all-or-nothing:
// it returns every point, or an *Error listing the refused lines. The HTTP
// endpoints use LineProtocolPartial instead.
func LineProtocol(r io.Reader, precision string, lim Limits) (event.Batch, error) {
	b, rejected, err := LineProtocolPartial(r, precision, lim)
	if err != nil {
		return event.Batch{}, err
	}
	if rejected != nil {
		return event.Batch{}, rejected
	}
	if len(b.Points) == 0 {
		return event.Batch{}, newError(KindEmpty, "line", "no line-protocol points in the request body")
	}
	return b, nil
}

// LineProtocolPartial parses a line-protocol body the way InfluxDB does: each
// line stands alone, so it returns the valid points and, when some lines were
// refused, an *Error listing them (Kind KindInvalidItems, unit "line"; its
// Items carry the refused line's text in Input). err is set only when the
// whole request is refused (a bad precision, too many points, a body that
// cannot be read). An empty or comment-only body is a valid, empty batch.
//
// StorePulse summed measurements are validated like metrics and marked
// Rollup; reserved ones are refused; anything else passes through with its
// field kinds. A field given two kinds in one request keeps the first: the
// later lines are refused, as InfluxDB refuses them (field type conflict).
func LineProtocolPartial(r io.Reader, precision string, lim Limits) (event.Batch, *Error, error) {
	lim = lim.withDefaults()
	unit, ok := precisionNS(precision)
	if !ok {
		return event.Batch{}, nil, newError(KindInvalidRequest, "line",
			"invalid precision %s; want one of ns, us, ms, s, m, h", quote(precision))
	}
	data, err := readBody(r)
	if err != nil {
		return event.Batch{}, nil, err
	}
	now := lim.Now().UnixNano()
	lp := &lpParser{
		errs: newCollector(lim.MaxErrors, "line"),
		win:  newTimeWindow(lim),
		// A point without a timestamp gets the request's time truncated to
		// the precision, as InfluxDB does.
		now:      now - now%unit,
		unit:     unit,
		ms:       summedMeasurements(),
		names:    make(map[string]string),
		kinds:    make(map[kindKey]kindSeen),
		unsigned: lim.AllowUnsigned,
	}
	var points []event.Point
	n := 0
	lineNo := 0
	for len(data) > 0 {
		// Entries are split into physical lines here because the decoder does
		// not expose the line of a valid entry; a string field holding a raw
		// newline makes us join the following line and retry.
		entry, rest, lines := nextEntry(data)
		data = rest
		first := lineNo + 1
		lineNo += lines
		decoded, mapped := mapControls(influxStringEscapes(entry))
		lp.mapped = mapped
		dec := lineprotocol.NewDecoderWithBytes(decoded)
		if !dec.Next() {
			continue // blank or comment line
		}
		if n >= lim.MaxItems {
			return event.Batch{}, nil, newError(KindTooManyItems, "line",
				"more than %d points in one request; split it into smaller requests", lim.MaxItems)
		}
		lp.input = entry
		p, ok := lp.point(dec, n, first)
		if dec.Next() {
			// Only possible if nextEntry mis-split; never accept silently.
			lp.reject(n, first, "", "unexpected second entry on one line")
			ok = false
		}
		if ok {
			lp.commitKinds(p.Measurement, first)
			points = append(points, p)
		}
		n++
	}
	if lp.errs.failed() {
		e := lp.errs.err(n)
		e.msg = fmt.Sprintf("%d of %d lines refused", len(lp.errs.bad), n)
		return event.Batch{Points: points}, e, nil
	}
	return event.Batch{Points: points}, nil, nil
}

// maxInput bounds the text of a refused line echoed back in an error.
const maxInput = 256

// shortInput is a refused line as echoed back: without its line break, cut
// to maxInput bytes on a rune boundary.
func shortInput(entry []byte) string {
	entry = bytes.TrimRight(entry, "\r\n")
	if len(entry) <= maxInput {
		return string(entry)
	}
	cut := maxInput
	for cut > 0 && !utf8.RuneStart(entry[cut]) {
		cut--
	}
	return string(entry[:cut]) + "..."
}

// nextEntry cuts the next line (plus continuation lines while a string field
// value is open) from data. It returns the entry, the rest and its line count.
func nextEntry(data []byte) (entry, rest []byte, lines int) {
	end := 0
	for {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			return data, nil, lines + 1
		}
		end += i + 1
		lines++
		if !openString(data[:end]) {
			return data[:end], data[end:], lines
		}
	}
}

// openString reports whether entry ends inside a string field value. Quotes
// only open strings after the first unescaped space (the field section).
func openString(entry []byte) bool {
	inFields, inString := false, false
	for i := 0; i < len(entry); i++ {
		c := entry[i]
		switch {
		case c == '\\':
			i++
		case inString:
			if c == '"' {
				inString = false
			}
		case c == ' ':
			inFields = true
		case c == '"' && inFields && i > 0 && entry[i-1] == '=':
			inString = true
		}
	}
	return inString
}

// influxStringEscapes makes the decoder read string field values as
// InfluxDB 1.8 does. InfluxDB unescapes only \" and \\ inside a string
// field; a backslash before anything else, e.g. the two characters \n, is
// kept as written, and raw tabs, newlines and carriage returns are kept raw.
// The decoder also turns \n, \t and \r into control characters, so each of
// those backslashes is doubled here: the decoder then yields the same two
// characters InfluxDB would store. Entries without such a sequence are
// returned unchanged, without copying.
func influxStringEscapes(entry []byte) []byte {
	if bytes.IndexByte(entry, '\\') < 0 {
		return entry
	}
	var out []byte
	last := 0
	inFields, inString := false, false
	for i := 0; i < len(entry); i++ {
		c := entry[i]
		switch {
		case c == '\\':
			if inString && i+1 < len(entry) {
				if n := entry[i+1]; n == 'n' || n == 't' || n == 'r' {
					out = append(out, entry[last:i+1]...)
					out = append(out, '\\')
					last = i + 1
				}
			}
			i++
		case inString:
			if c == '"' {
				inString = false
			}
		case c == ' ':
			inFields = true
		case c == '"' && inFields && i > 0 && entry[i-1] == '=':
			inString = true
		}
	}
	if out == nil {
		return entry
	}
	return append(out, entry[last:]...)
}

// maxSeriesKey is InfluxDB's limit on a series key: the measurement and
// tags as written in line protocol (InfluxDB 1.8: "max key length exceeded").
const maxSeriesKey = 65535

// seriesKeyLen is the length of p's series key as line protocol writes it.
func seriesKeyLen(p *event.Point) int {
	escaped := func(s, special string) int {
		n := len(s)
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(special, s[i]) >= 0 {
				n++
			}
		}
		return n
	}
	n := escaped(p.Measurement, ", ")
	for _, t := range p.Tags {
		n += 2 + escaped(t.Key, ",= ") + escaped(t.Value, ",= ")
	}
	return n
}

// kindKey is a field of a measurement; kindSeen is the first kind a request
// gave it. InfluxDB refuses a batch that gives one field of a measurement two
// kinds, so a request must not.
type kindKey struct{ measurement, field string }

type kindSeen struct {
	kind lineprotocol.ValueKind
	line int
}

type lpParser struct {
	errs     *collector
	win      timeWindow
	now      int64
	unit     int64
	ms       map[string]schema.Measurement
	names    map[string]string // interned measurement names, tag keys and values
	kinds    map[kindKey]kindSeen
	pending  []pendingKind // kinds of the current line, recorded if it is accepted
	unsigned bool          // accept unsigned (1u) pass-through fields
	input    []byte        // the current line, echoed back if refused
	mapped   bool          // the current line's control characters were mapped (mapControls)
}

// ctlBase is where mapControls puts control characters: Unicode's
// supplementary private use area B (U+100000 + the byte).
const ctlBase rune = 0x100000

// isControl reports a control character that InfluxDB 1.8 accepts in names
// and the line-protocol decoder does not: all but newline and carriage
// return, which end a line.
func isControl(c byte) bool { return (c < 0x20 && c != '\n' && c != '\r') || c == 0x7f }

// mapControls lets the decoder read names that hold control characters, as
// InfluxDB 1.8 reads them: outside string field values each such byte
// becomes the private-use rune U+100000+byte, which unmap turns back. An
// entry that already holds such a rune is left alone (the decoder then
// refuses its control characters).
func mapControls(entry []byte) ([]byte, bool) {
	has := false
	for _, c := range entry {
		if isControl(c) {
			has = true
			break
		}
	}
	if !has || bytes.Contains(entry, []byte{0xf4, 0x80, 0x80}) || bytes.Contains(entry, []byte{0xf4, 0x80, 0x81}) {
		return entry, false
	}
	// InfluxDB skips leading blanks, tabs included; the decoder only spaces.
	entry = bytes.TrimLeft(entry, " \t")
	out := make([]byte, 0, len(entry)+16)
	inFields, inString := false, false
	for i := 0; i < len(entry); i++ {
		c := entry[i]
		switch {
		case inString:
			if c == '\\' && i+1 < len(entry) {
				out = append(out, c)
				i++
				c = entry[i]
			} else if c == '"' {
				inString = false
			}
		case isControl(c):
			out = utf8.AppendRune(out, ctlBase+rune(c))
			continue
		case c == '\\' && i+1 < len(entry):
			out = append(out, c)
			i++
			c = entry[i]
			if isControl(c) {
				out = utf8.AppendRune(out, ctlBase+rune(c))
				continue
			}
		case c == ' ':
			inFields = true
		case c == '"' && inFields && i > 0 && entry[i-1] == '=':
			inString = true
		}
		out = append(out, c)
	}
	return out, true
}

// unmap undoes mapControls in a name.
func (lp *lpParser) unmap(b []byte) []byte {
	if !lp.mapped || !bytes.Contains(b, []byte{0xf4, 0x80}) {
		return b
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r >= ctlBase && r < ctlBase+0x80 {
			out = append(out, byte(r-ctlBase))
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

type pendingKind struct {
	field string
	kind  lineprotocol.ValueKind
}

// reject records a refused line with its text.
func (lp *lpParser) reject(index, line int, field, reason string) {
	listed := len(lp.errs.items)
	lp.errs.add(index, line, field, reason)
	if len(lp.errs.items) > listed {
		lp.errs.items[listed].Input = shortInput(lp.input)
	}
}

// commitKinds records the field kinds of an accepted line.
func (lp *lpParser) commitKinds(measurement string, line int) {
	for _, pk := range lp.pending {
		k := kindKey{measurement, pk.field}
		if _, ok := lp.kinds[k]; !ok {
			lp.kinds[k] = kindSeen{pk.kind, line}
		}
	}
}

func (lp *lpParser) str(b []byte) string {
	if s, ok := lp.names[string(b)]; ok {
		return s
	}
	s := string(b)
	lp.names[s] = s
	return s
}

func (lp *lpParser) point(dec *lineprotocol.Decoder, index, line int) (event.Point, bool) {
	bad := false
	lp.pending = lp.pending[:0]
	fail := func(field, reason string) {
		bad = true
		lp.reject(index, line, field, reason)
	}
	syntax := func(err error) (event.Point, bool) {
		fail("", "invalid line protocol: "+string(lp.unmap([]byte(err.Error()))))
		return event.Point{}, false
	}
	var p event.Point
	name, err := dec.Measurement()
	if err != nil {
		return syntax(err)
	}
	name = lp.unmap(name)
	m, rollup := lp.ms[string(name)]
	if reason := reservedMeasurement(string(name)); reason != "" {
		fail("", reason)
	} else if reason := checkPassName(string(name)); reason != "" {
		fail("", "measurement name "+reason)
	}
	p.Measurement = lp.str(name)
	p.Rollup = rollup

	hasStore := false
	for {
		k, val, err := dec.NextTag()
		if err != nil {
			return syntax(err)
		}
		if k == nil {
			break
		}
		k, val = lp.unmap(k), lp.unmap(val)
		field := "tags." + string(k)
		key := lp.str(k)
		switch {
		case key == schema.TagIngester:
			fail(field, `tag "ingester" is reserved: written only by StorePulse`)
			continue
		case key == "time":
			fail(field, `tag key "time" is not allowed: InfluxDB refuses it`)
			continue
		case rollup:
			if _, ok := keyIn(m.Tags, k); !ok {
				fail(field, "unknown tag for "+m.Name+"; want "+strings.Join(m.Tags, ", "))
				continue
			}
		default:
			if reason := checkPassName(key); reason != "" {
				fail(field, "tag key "+reason)
				continue
			}
		}
		for _, t := range p.Tags {
			if t.Key == key {
				fail(field, "duplicate tag")
			}
		}
		v := lp.str(val)
		check := checkPassName
		if rollup {
			// Tags of StorePulse measurements become dimensions of its
			// rollups and dashboards: printable, at most 128 bytes.
			check = checkTag
		}
		if reason := check(v); reason != "" {
			fail(field, reason)
			continue
		}
		hasStore = hasStore || key == schema.TagStore
		p.Tags = append(p.Tags, event.Tag{Key: key, Value: v})
	}
	if rollup && !hasStore {
		fail("tags.store", "missing required tag")
	}
	if n := seriesKeyLen(&p); n > maxSeriesKey {
		fail("", "series key (measurement and tags, escaped) is "+strconv.Itoa(n)+" bytes; InfluxDB refuses more than "+
			strconv.Itoa(maxSeriesKey)+" (max key length exceeded)")
	}

	for {
		k, val, err := dec.NextField()
		if err != nil {
			return syntax(err)
		}
		if k == nil {
			break
		}
		k = lp.unmap(k)
		field := "fields." + string(k)
		key := lp.str(k)
		f, reason := lp.field(key, val, rollup, m)
		if reason == "" && seriesKeyLen(&p)+len(key) > maxSeriesKey {
			reason = "series key and field key together exceed InfluxDB's " + strconv.Itoa(maxSeriesKey) + " bytes (max key length exceeded)"
		}
		if reason == "" && !rollup {
			reason = lp.sameKind(p.Measurement, key, val.Kind())
		}
		if reason != "" {
			fail(field, reason)
			continue
		}
		if !rollup {
			lp.pending = append(lp.pending, pendingKind{key, val.Kind()})
		}
		// A field key given twice keeps the last value, as InfluxDB does,
		// unless the two values differ in kind (InfluxDB: field type conflict).
		dup := false
		for i := range p.Fields {
			if p.Fields[i].Key != key {
				continue
			}
			dup = true
			if p.Fields[i].Kind != f.Kind {
				fail(field, "field type conflict: the line gives this field twice with different types")
			}
			p.Fields[i] = f
		}
		if !dup {
			p.Fields = append(p.Fields, f)
		}
	}
	if len(p.Fields) == 0 && !bad {
		fail("", "no fields")
	}

	ts, err := dec.TimeBytes()
	if err != nil {
		return syntax(err)
	}
	p.Time = lp.now
	if ts != nil {
		x, perr := strconv.ParseInt(string(ts), 10, 64)
		ns := x * lp.unit
		if perr != nil || (x != 0 && ns/x != lp.unit) {
			fail("", "invalid timestamp "+quote(string(ts))+": not an integer in range for the precision")
		} else if t, reason := lp.win.checkTime(time.Unix(0, ns)); reason != "" {
			fail("", reason)
		} else {
			p.Time = t
		}
	}
	if bad {
		return event.Point{}, false
	}
	sortPoint(&p)
	return p, true
}

func (lp *lpParser) field(key string, val lineprotocol.Value, rollup bool, m schema.Measurement) (event.Field, string) {
	f := event.Field{Key: key}
	if rollup {
		if _, ok := keyIn(m.Fields, []byte(key)); !ok {
			return f, "unknown field for " + m.Name + "; want " + strings.Join(m.Fields, ", ")
		}
		var x float64
		switch val.Kind() {
		case lineprotocol.Float:
			x = val.FloatV()
		case lineprotocol.Int:
			x = float64(val.IntV())
		case lineprotocol.Uint:
			x = float64(val.UintV())
		default:
			return f, "must be a number, got " + val.Kind().String() + " " + val.String()
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return f, "must be a non-negative finite number, got " + val.String()
		}
		if reason := checkNumber(x, val.String()); reason != "" {
			return f, reason
		}
		f.Kind, f.Float = event.FieldFloat, x+0
		return f, ""
	}
	if key == "time" {
		return f, `field key "time" is not allowed: InfluxDB refuses it`
	}
	if reason := checkPassName(key); reason != "" {
		return f, "field key " + reason
	}
	switch val.Kind() {
	case lineprotocol.Float:
		x := val.FloatV()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return f, "must be finite, got " + val.String()
		}
		f.Kind, f.Float = event.FieldFloat, x
	case lineprotocol.Int:
		f.Kind, f.Int = event.FieldInt, val.IntV()
	case lineprotocol.Uint:
		if !lp.unsigned {
			n := strconv.FormatUint(val.UintV(), 10)
			return f, "unsigned integer " + n + "u is not supported by the InfluxDB this service writes to (1.8 refuses it); write " + n + "i or " + n + " instead"
		}
		f.Kind, f.Uint = event.FieldUint, val.UintV()
	case lineprotocol.Bool:
		f.Kind, f.Bool = event.FieldBool, val.BoolV()
	case lineprotocol.String:
		b := val.BytesV()
		if !utf8.Valid(b) {
			return f, "string value must be valid UTF-8"
		}
		f.Kind, f.Str = event.FieldString, string(b)
	default:
		return f, "unsupported value kind " + val.Kind().String()
	}
	return f, ""
}

// sameKind reports a conflict of a pass-through field's kind with an earlier
// accepted line of the request: InfluxDB refuses the later point (field type
// conflict).
func (lp *lpParser) sameKind(measurement, field string, kind lineprotocol.ValueKind) string {
	seen, ok := lp.kinds[kindKey{measurement, field}]
	if !ok || seen.kind == kind {
		return ""
	}
	return "field type conflict: " + kindName(kind) + " here, but " + kindName(seen.kind) + " on line " +
		strconv.Itoa(seen.line) + " for the same measurement; InfluxDB refuses a field with two types"
}

func kindName(k lineprotocol.ValueKind) string {
	switch k {
	case lineprotocol.Int:
		return "integer"
	case lineprotocol.Uint:
		return "unsigned integer"
	case lineprotocol.Float:
		return "float"
	case lineprotocol.String:
		return "string"
	case lineprotocol.Bool:
		return "boolean"
	}
	return k.String()
}

// checkPassName validates the measurement name, tag keys, tag values and
// field keys of a pass-through point: whatever InfluxDB 1.8 stores and
// internal/lineproto can write back (lineproto.ValidName). Control characters
// other than a newline or carriage return are allowed, as InfluxDB allows
// them; the length is bounded only by InfluxDB's series-key limit.
func checkPassName(s string) string {
	if err := lineproto.ValidName(s); err != nil {
		return "cannot be stored in InfluxDB: it " + err.Error() + "; got " + quote(s)
	}
	return ""
}
