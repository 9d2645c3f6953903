package parse

import (
	"io"

	"github.com/storepulse/storepulse/ingest/event"
)

// avgEventBytes sizes the initial event slice from the body length.
const avgEventBytes = 120

// Events parses POST /v1/events: a JSON array of event objects, or NDJSON
// (one object per line), chosen by the first non-blank byte.
func Events(r io.Reader, lim Limits) (event.Batch, error) {
	lim = lim.withDefaults()
	data, err := readBody(r)
	if err != nil {
		return event.Batch{}, err
	}
	errs := newCollector(lim.MaxErrors, "item")
	v := newValidator(lim, errs)
	s := &scanner{data: data}
	events := make([]event.Event, 0, min(len(data)/avgEventBytes+1, lim.MaxItems))
	var raw rawEvent
	n, err := s.items(lim, errs, func(index, line int) error {
		raw.reset(index, line)
		if err := s.object(func(key []byte) error { return readEventMember(s, &raw, key, errs) }); err != nil {
			return err
		}
		var ev event.Event
		if v.event(&raw, &ev) && !errs.failed() {
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		return event.Batch{}, err
	}
	if errs.failed() {
		return event.Batch{}, errs.err(n)
	}
	return event.Batch{Events: events}, nil
}

// readEventMember stores one member of an event object into raw. Problems
// with keys are kept up to maxPrePerItem per item and counted beyond; "did
// you mean" hints are drawn from the request's budget in errs.
func readEventMember(s *scanner, raw *rawEvent, key []byte, errs *collector) error {
	f, known := fieldByName(string(key))
	if known && !raw.present.has(f) {
		raw.present |= 1 << f
		return s.value(&raw.v[f])
	}
	var skipped rawVal
	if err := s.value(&skipped); err != nil {
		return err
	}
	if len(raw.pre) >= maxPrePerItem {
		raw.preDropped++
		return nil
	}
	if known {
		raw.pre = append(raw.pre, ItemError{Field: f.String(), Reason: "duplicate field"})
		return nil
	}
	reason := "unknown field"
	if hint := errs.hint(string(key), allFields); hint != "" {
		reason += "; did you mean " + `"` + hint + `"?`
	}
	raw.pre = append(raw.pre, ItemError{Field: shortName(string(key)), Reason: reason})
	return nil
}

// allFields is every field name known to any event type.
const allFields = fieldSet(1<<numFields - 1)
