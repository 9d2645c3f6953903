package parse

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/localday"
)

// valKind is the syntactic kind of a raw value.
type valKind uint8

const (
	vAbsent valKind = iota
	vString         // JSON string (unescaped)
	vNumber         // JSON number literal
	vBool
	vNull
	vObject
	vArray
	vText    // untyped text from CSV or a set.<field> constant, coerced to the field's type
	vTime    // a time already converted by the CSV layer
	vInvalid // already reported while reading (e.g. a CSV time not matching its layout)
)

// rawVal is one field value before validation. raw aliases the request body
// (or a fresh copy for strings with escapes), so building it never allocates.
type rawVal struct {
	kind valKind
	raw  []byte
	b    bool
	t    time.Time // for vTime
}

func (v *rawVal) describe() string {
	switch v.kind {
	case vString, vText:
		return quote(string(v.raw))
	case vNumber:
		return string(v.raw)
	case vBool:
		return strconv.FormatBool(v.b)
	case vNull:
		return "null"
	case vObject:
		return "an object"
	case vArray:
		return "an array"
	case vTime:
		return v.t.UTC().Format(time.RFC3339Nano)
	}
	return "nothing"
}

// rawEvent is the intermediate form shared by JSON and CSV input: which
// fields are present and their raw values.
type rawEvent struct {
	present fieldSet
	v       [numFields]rawVal
	index   int
	line    int
	pre     []ItemError // problems found while reading (unknown/duplicate fields)
	// preDropped counts reading problems beyond maxPrePerItem (not listed).
	preDropped int
	where      *[numFields]string // optional source of each field (CSV column), for messages
}

func (r *rawEvent) reset(index, line int) {
	r.present = 0
	r.pre = r.pre[:0]
	r.preDropped = 0
	r.index, r.line = index, line
}

func (r *rawEvent) setVal(f fieldID, v rawVal) {
	r.present |= 1 << f
	r.v[f] = v
}

// validator checks raw events and maps them to event.Event.
type validator struct {
	win    timeWindow
	loc    *time.Location // zone of times without offset (tz=), or nil
	errs   *collector
	intern map[string]string // tag values repeat a lot; share one string per value
	nerr   int               // errors reported for the current item
}

func newValidator(lim Limits, errs *collector) *validator {
	return &validator{win: newTimeWindow(lim), loc: lim.Location, errs: errs, intern: make(map[string]string)}
}

func (v *validator) fail(r *rawEvent, f fieldID, reason string) {
	v.nerr++
	if r.where != nil && r.where[f] != "" {
		reason = r.where[f] + ": " + reason
	}
	v.errs.add(r.index, r.line, f.String(), reason)
}

func (v *validator) tagString(b []byte) string {
	if s, ok := v.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	v.intern[s] = s
	return s
}

// event validates r into ev; it reports every problem and returns false if any.
func (v *validator) event(r *rawEvent, ev *event.Event) bool {
	v.nerr = 0
	for _, p := range r.pre {
		v.nerr++
		v.errs.add(r.index, r.line, p.Field, p.Reason)
	}
	if r.preDropped > 0 {
		v.nerr++
		v.errs.addN(r.index, r.line, "", "more unknown or duplicate fields (not listed)", r.preDropped)
	}
	*ev = event.Event{}

	typ := event.TypeUnknown
	if r.present.has(fType) {
		if b, ok := v.text(r, fType); ok {
			t, known := event.ParseType(string(b))
			if !known {
				v.fail(r, fType, "unknown type "+quote(string(b))+"; want one of "+typeNames())
			}
			typ = t
		}
	}
	ev.Type = typ
	spec := specFor(typ)
	if typ != event.TypeUnknown {
		(r.present &^ spec.allowed()).each(func(f fieldID) {
			v.fail(r, f, "not used by type "+strconv.Quote(typ.String()))
		})
	}
	(spec.required &^ r.present).each(func(f fieldID) {
		v.fail(r, f, "missing required field")
	})

	(r.present & spec.allowed()).each(func(f fieldID) { v.field(r, f, ev) })

	switch typ {
	case event.TypeImpression, event.TypeClick, event.TypeConversion:
		if !r.present.has(fCount) {
			ev.Count = 1
		}
	case event.TypeTicket:
		if ev.TicketStatus == event.TicketResolved && !r.present.has(fResolutionS) {
			v.fail(r, fResolutionS, `missing: required when status is "resolved"`)
		}
		if ev.TicketStatus == event.TicketOpened && r.present.has(fResolutionS) {
			v.fail(r, fResolutionS, `not allowed when status is "opened"`)
		}
	case event.TypePrice:
		if !r.present.has(fCategory) && !r.present.has(fSKU) {
			v.fail(r, fCategory, `missing: a price needs "category" or "sku" (or both)`)
		}
	}
	return v.nerr == 0
}

func (v *validator) field(r *rawEvent, f fieldID, ev *event.Event) {
	switch f {
	case fType:
		// Handled first: it selects the rules.
	case fID:
		ev.ID = v.ident(r, f)
	case fTime:
		ev.Time = v.time(r, f)
	case fStore:
		ev.Store = v.tag(r, f)
	case fChannel:
		ev.Channel = v.tag(r, f)
	case fCategory:
		ev.Category = v.tag(r, f)
	case fCampaign:
		ev.Campaign = v.tag(r, f)
	case fReason:
		ev.Reason = v.tag(r, f)
	case fCompetitor:
		ev.Competitor = v.tag(r, f)
	case fUser:
		ev.User = v.ident(r, f)
	case fVisitor:
		ev.Visitor = v.ident(r, f)
	case fOrder:
		ev.Order = v.ident(r, f)
	case fSKU:
		ev.SKU = v.ident(r, f)
	case fPageViews:
		ev.PageViews = v.number(r, f, true, false)
	case fItems:
		ev.Items = v.number(r, f, true, false)
	case fCount:
		ev.Count = v.number(r, f, true, false)
	case fDurationS:
		ev.DurationS = v.number(r, f, false, false)
	case fAmount:
		ev.Amount = v.number(r, f, false, false)
	case fFirstResponseS:
		ev.FirstResponseS = v.number(r, f, false, false)
	case fResolutionS:
		ev.ResolutionS = v.number(r, f, false, false)
	case fOwnPrice:
		ev.OwnPrice = v.number(r, f, false, true)
	case fCompetitorPrice:
		ev.CompetitorPrice = v.number(r, f, false, true)
	case fAddedToCart:
		ev.AddedToCart = v.bool(r, f)
	case fConverted:
		ev.Converted = v.bool(r, f)
	case fCustomer:
		switch v.enum(r, f, "new", "returning") {
		case "new":
			ev.Customer = event.CustomerNew
		case "returning":
			ev.Customer = event.CustomerReturning
		}
	case fStatus:
		switch v.enum(r, f, "opened", "resolved") {
		case "opened":
			ev.TicketStatus = event.TicketOpened
		case "resolved":
			ev.TicketStatus = event.TicketResolved
		}
	case fCreative:
		ev.Creative = v.enum(r, f, "banner", "push", "sms")
	case numFields:
	}
}

func (v *validator) text(r *rawEvent, f fieldID) ([]byte, bool) {
	val := &r.v[f]
	if val.kind == vString || val.kind == vText {
		return val.raw, true
	}
	v.fail(r, f, "must be a string, got "+val.describe())
	return nil, false
}

func (v *validator) tag(r *rawEvent, f fieldID) string {
	b, ok := v.text(r, f)
	if !ok {
		return ""
	}
	s := v.tagString(b)
	if reason := checkTag(s); reason != "" {
		v.fail(r, f, reason)
		return ""
	}
	return s
}

func (v *validator) ident(r *rawEvent, f fieldID) string {
	b, ok := v.text(r, f)
	if !ok {
		return ""
	}
	s := string(b)
	if reason := checkText(s, MaxIDLen); reason != "" {
		v.fail(r, f, reason)
		return ""
	}
	return s
}

func (v *validator) enum(r *rawEvent, f fieldID, want ...string) string {
	b, ok := v.text(r, f)
	if !ok {
		return ""
	}
	for _, w := range want {
		if string(b) == w {
			return w
		}
	}
	list := ""
	for i, w := range want {
		if i > 0 {
			list += ", "
		}
		list += strconv.Quote(w)
	}
	v.fail(r, f, "must be one of "+list+", got "+quote(string(b)))
	return ""
}

func (v *validator) bool(r *rawEvent, f fieldID) bool {
	val := &r.v[f]
	switch val.kind {
	case vBool:
		return val.b
	case vText:
		if b, err := strconv.ParseBool(string(val.raw)); err == nil {
			return b
		}
	}
	v.fail(r, f, "must be true or false, got "+val.describe())
	return false
}

// number parses a non-negative finite number; whole additionally requires an
// integral value and positive a value > 0.
func (v *validator) number(r *rawEvent, f fieldID, whole, positive bool) float64 {
	val := &r.v[f]
	var x float64
	switch val.kind {
	case vNumber, vText:
		var err error
		x, err = strconv.ParseFloat(string(val.raw), 64)
		if err != nil && val.kind == vText && !isRangeErr(err) {
			v.fail(r, f, "must be a number, got "+val.describe())
			return 0
		}
	default:
		v.fail(r, f, "must be a number, got "+val.describe())
		return 0
	}
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || x < 0:
		v.fail(r, f, "must be a non-negative finite number, got "+literal(val))
	case positive && x == 0:
		v.fail(r, f, "must be a positive finite number, got "+literal(val))
	case whole && x != math.Trunc(x):
		v.fail(r, f, "must be a non-negative whole number, got "+literal(val))
	case x > MaxNumber:
		v.fail(r, f, checkNumber(x, literal(val)))
	default:
		return x + 0 // +0 turns -0 into 0
	}
	return 0
}

func isRangeErr(err error) bool { return errors.Is(err, strconv.ErrRange) }

// literal renders a number as the client wrote it.
func literal(val *rawVal) string {
	if val.kind == vNumber {
		return string(val.raw)
	}
	return quote(string(val.raw))
}

// localLayout is a time without offset, read in the tz= zone: RFC 3339
// without its offset (fractional seconds optional).
const localLayout = "2006-01-02T15:04:05"

// parseTime reads a time string: RFC 3339 with offset, or without one when
// the request gave its zone (tz=).
func (v *validator) parseTime(r *rawEvent, f fieldID, val *rawVal) (time.Time, bool) {
	s := string(val.raw)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	wall, err := time.Parse(localLayout, s)
	switch {
	case err != nil:
		hint := timeFormatHint
		if v.loc != nil {
			hint = timeFormatHint + ", or without offset (e.g. 2024-06-18T09:30:00) in the tz zone " + v.loc.String()
		}
		v.fail(r, f, "must be "+hint+", got "+val.describe())
		return time.Time{}, false
	case v.loc == nil:
		v.fail(r, f, "has no UTC offset, got "+val.describe()+
			": add one (e.g. 2024-06-18T09:30:00+08:00) or give the zone of such times with the query parameter tz (e.g. tz=Asia/Shanghai)")
		return time.Time{}, false
	}
	return localday.InstantOf(wall, v.loc), true
}

func (v *validator) time(r *rawEvent, f fieldID) int64 {
	val := &r.v[f]
	var t time.Time
	switch val.kind {
	case vString, vText:
		var ok bool
		if t, ok = v.parseTime(r, f, val); !ok {
			return 0
		}
	case vNumber:
		ms, err := strconv.ParseInt(string(val.raw), 10, 64)
		if err != nil {
			v.fail(r, f, "must be "+timeFormatHint+", got "+val.describe())
			return 0
		}
		t = time.UnixMilli(ms)
	case vTime:
		t = val.t
	case vInvalid:
		return 0
	default:
		v.fail(r, f, "must be "+timeFormatHint+", got "+val.describe())
		return 0
	}
	ns, reason := v.win.checkTime(t)
	if reason != "" {
		v.fail(r, f, reason)
		return 0
	}
	return ns
}
