package parse

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/schema"
)

// reservedMeasurement says why a measurement cannot be written by clients, or "".
func reservedMeasurement(name string) string {
	switch name {
	case schema.MeasDistinct, schema.MeasDistinctStore, schema.MeasCampaign, schema.MeasTarget, schema.MeasIngest:
		return "measurement " + strconv.Quote(name) + " is reserved: written only by StorePulse"
	}
	if strings.HasPrefix(name, "sp_") {
		if _, ok := schema.Lookup(name); !ok {
			return "unknown StorePulse measurement " + strconv.Quote(name) +
				" (the sp_ prefix is reserved); want one of " + summedNames()
		}
	}
	return ""
}

// summedNames lists the measurements clients may write pre-aggregated values to.
func summedNames() string {
	var names []string
	for _, m := range schema.Summed() {
		if m.Name != schema.MeasIngest {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ", ")
}

// summedMeasurements indexes the writable summed measurements for one request.
func summedMeasurements() map[string]schema.Measurement {
	ms := make(map[string]schema.Measurement)
	for _, m := range schema.Summed() {
		if m.Name != schema.MeasIngest {
			ms[m.Name] = m
		}
	}
	return ms
}

// keyIn returns the canonical (schema) spelling of key if it is in list.
func keyIn(list []string, key []byte) (string, bool) {
	for _, k := range list {
		if k == string(key) {
			return k, true
		}
	}
	return "", false
}

type rawKV struct {
	key []byte
	val rawVal
}

type rawMetric struct {
	id, meas, time rawVal
	tags, fields   []rawKV
	tagsVal        rawVal // kind of the "tags" member (must be an object)
	fieldsVal      rawVal
	pre            []ItemError
	preDropped     int             // reading problems beyond maxPrePerItem (not listed)
	overflow       map[string]bool // "tags"/"fields" objects over maxMapMembers, reported
}

func (m *rawMetric) reset() {
	tags, fields, pre := m.tags[:0], m.fields[:0], m.pre[:0]
	overflow := m.overflow
	if overflow == nil {
		overflow = make(map[string]bool, 2)
	}
	clear(overflow)
	*m = rawMetric{tags: tags, fields: fields, pre: pre, overflow: overflow}
}

// Metrics parses POST /v1/metrics: pre-aggregated values for StorePulse summed
// measurements, as a JSON array of objects or NDJSON.
func Metrics(r io.Reader, lim Limits) (event.Batch, error) {
	lim = lim.withDefaults()
	data, err := readBody(r)
	if err != nil {
		return event.Batch{}, err
	}
	errs := newCollector(lim.MaxErrors, "item")
	v := newValidator(lim, errs)
	ms := summedMeasurements()
	s := &scanner{data: data}
	var points []event.Point
	var raw rawMetric
	n, err := s.items(lim, errs, func(index, line int) error {
		raw.reset()
		if err := s.object(func(key []byte) error { return readMetricMember(s, &raw, key) }); err != nil {
			return err
		}
		if p, ok := v.metric(&raw, ms, index, line); ok && !errs.failed() {
			points = append(points, p)
		}
		return nil
	})
	if err != nil {
		return event.Batch{}, err
	}
	if errs.failed() {
		return event.Batch{}, errs.err(n)
	}
	return event.Batch{Points: points}, nil
}

// addPre records a reading problem, listing at most maxPrePerItem per item.
func (m *rawMetric) addPre(field, reason string) {
	if len(m.pre) >= maxPrePerItem {
		m.preDropped++
		return
	}
	m.pre = append(m.pre, ItemError{Field: shortName(field), Reason: reason})
}

// maxMapMembers bounds the members of an item's tags or fields object: a
// measurement has a handful, and the duplicate checks are quadratic in it.
const maxMapMembers = 64

func readMetricMember(s *scanner, raw *rawMetric, key []byte) error {
	var dst *rawVal
	switch string(key) {
	case "id":
		dst = &raw.id
	case "measurement":
		dst = &raw.meas
	case "time":
		dst = &raw.time
	case "tags":
		return readMetricMap(s, raw, &raw.tagsVal, &raw.tags, "tags")
	case "fields":
		return readMetricMap(s, raw, &raw.fieldsVal, &raw.fields, "fields")
	default:
		var skipped rawVal
		if err := s.value(&skipped); err != nil {
			return err
		}
		raw.addPre(string(key), "unknown field; want id, measurement, time, tags, fields")
		return nil
	}
	if dst.kind != vAbsent {
		raw.addPre(string(key), "duplicate field")
		var skipped rawVal
		return s.value(&skipped)
	}
	return s.value(dst)
}

func readMetricMap(s *scanner, raw *rawMetric, kind *rawVal, dst *[]rawKV, name string) error {
	if kind.kind != vAbsent {
		raw.addPre(name, "duplicate field")
		var skipped rawVal
		return s.value(&skipped)
	}
	if s.peek() != '{' {
		return s.value(kind)
	}
	kind.kind = vObject
	return s.object(func(key []byte) error {
		if len(*dst) >= maxMapMembers {
			if !raw.overflow[name] {
				raw.overflow[name] = true
				raw.addPre(name, fmt.Sprintf("more than %d members", maxMapMembers))
			}
			var skipped rawVal
			return s.value(&skipped)
		}
		*dst = append(*dst, rawKV{key: key})
		return s.value(&(*dst)[len(*dst)-1].val)
	})
}

// metric validates one metrics item.
func (v *validator) metric(raw *rawMetric, ms map[string]schema.Measurement, index, line int) (event.Point, bool) {
	bad := false
	fail := func(field, reason string) {
		bad = true
		v.errs.add(index, line, field, reason)
	}
	for _, p := range raw.pre {
		fail(p.Field, p.Reason)
	}
	if raw.preDropped > 0 {
		bad = true
		v.errs.addN(index, line, "", "more unknown or duplicate fields (not listed)", raw.preDropped)
	}
	var p event.Point

	// id and time share the event rules, through a one-field raw event.
	var re rawEvent
	re.reset(index, line)
	v.nerr = 0
	if raw.id.kind == vAbsent {
		fail("id", "missing required field")
	} else {
		re.setVal(fID, raw.id)
		p.ID = v.ident(&re, fID)
	}
	if raw.time.kind == vAbsent {
		fail("time", "missing required field")
	} else {
		re.setVal(fTime, raw.time)
		p.Time = v.time(&re, fTime)
	}
	bad = bad || v.nerr > 0

	var m schema.Measurement
	known := false
	switch raw.meas.kind {
	case vAbsent:
		fail("measurement", "missing required field")
	case vString:
		name := string(raw.meas.raw)
		if m, known = ms[name]; known {
			p.Measurement = m.Name
		} else if reason := reservedMeasurement(name); reason != "" {
			fail("measurement", reason)
		} else {
			fail("measurement", "unknown measurement "+quote(name)+"; want one of "+summedNames())
		}
	default:
		fail("measurement", "must be a string, got "+raw.meas.describe())
	}

	switch raw.tagsVal.kind {
	case vObject:
	case vAbsent:
		fail("tags", `missing required field (needs at least "store")`)
	default:
		fail("tags", "must be an object of tag values, got "+raw.tagsVal.describe())
	}
	hasStore := false
	for i, kv := range raw.tags {
		field := "tags." + string(kv.key)
		for _, prev := range raw.tags[:i] {
			if string(prev.key) == string(kv.key) {
				fail(field, "duplicate tag")
			}
		}
		if kv.val.kind != vString {
			fail(field, "must be a string, got "+kv.val.describe())
			continue
		}
		if string(kv.key) == schema.TagIngester {
			fail(field, `tag "ingester" is reserved: written only by StorePulse`)
			continue
		}
		if !known {
			continue
		}
		key, ok := keyIn(m.Tags, kv.key)
		if !ok {
			fail(field, "unknown tag for "+m.Name+"; want "+strings.Join(m.Tags, ", "))
			continue
		}
		val := v.tagString(kv.val.raw)
		if reason := checkTag(val); reason != "" {
			fail(field, reason)
			continue
		}
		hasStore = hasStore || key == schema.TagStore
		p.Tags = append(p.Tags, event.Tag{Key: key, Value: val})
	}
	if known && raw.tagsVal.kind == vObject && !hasStore && !slices.ContainsFunc(raw.tags, func(kv rawKV) bool { return string(kv.key) == schema.TagStore }) {
		fail("tags.store", "missing required tag")
	}

	switch raw.fieldsVal.kind {
	case vObject:
		if len(raw.fields) == 0 {
			fail("fields", "needs at least one field")
		}
	case vAbsent:
		fail("fields", "missing required field")
	default:
		fail("fields", "must be an object of numbers, got "+raw.fieldsVal.describe())
	}
	for i, kv := range raw.fields {
		field := "fields." + string(kv.key)
		for _, prev := range raw.fields[:i] {
			if string(prev.key) == string(kv.key) {
				fail(field, "duplicate field")
			}
		}
		if kv.val.kind != vNumber {
			fail(field, "must be a number, got "+kv.val.describe())
			continue
		}
		x, _ := strconv.ParseFloat(string(kv.val.raw), 64) // grammar already checked; range -> Inf below
		if math.IsInf(x, 0) || x < 0 {
			fail(field, "must be a non-negative finite number, got "+string(kv.val.raw))
			continue
		}
		if reason := checkNumber(x, string(kv.val.raw)); reason != "" {
			fail(field, reason)
			continue
		}
		if !known {
			continue
		}
		key, ok := keyIn(m.Fields, kv.key)
		if !ok {
			fail(field, "unknown field for "+m.Name+"; want "+strings.Join(m.Fields, ", "))
			continue
		}
		p.Fields = append(p.Fields, event.Field{Key: key, Kind: event.FieldFloat, Float: x + 0})
	}
	if bad {
		return event.Point{}, false
	}
	sortPoint(&p)
	p.Rollup = true
	return p, true
}

func sortPoint(p *event.Point) {
	slices.SortFunc(p.Tags, func(a, b event.Tag) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(p.Fields, func(a, b event.Field) int { return strings.Compare(a.Key, b.Key) })
}
