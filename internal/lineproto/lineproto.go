// Package lineproto is StorePulse's one line-protocol encoder: it writes
// exactly what InfluxDB 1.8 reads back byte for byte.
//
// It differs from github.com/influxdata/line-protocol/v2's Encoder in string
// field values only: InfluxDB unescapes just \" and \\ inside a string field
// and keeps a raw tab, newline or carriage return as it is, so those are
// written raw here. (The library writes them as \t, \n and \r, which InfluxDB
// stores as two characters each.) Names are as strict as the library's:
// measurement names, tag keys, tag values and field keys must be non-empty
// valid UTF-8 without a newline or carriage return (either would end the
// line; other control characters are written raw, as InfluxDB 1.8 reads and
// stores them) and must not end with a backslash
// (line protocol cannot represent that; InfluxDB answers "invalid tag
// format") nor hold a backslash right before ",", "=" or " " (InfluxDB reads
// that as an escaped backslash followed by a separator); tags must be added
// in strictly increasing key order.
package lineproto

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

type section uint8

const (
	sectionNone section = iota
	sectionTags
	sectionFields
	sectionDone
)

// Encoder encodes one line at a time. The zero value is ready to use; reuse
// it for many lines to reuse its buffer.
type Encoder struct {
	buf     []byte
	err     error
	section section
	prevTag string
}

// StartLine discards any previous line and starts one for measurement.
func (e *Encoder) StartLine(measurement string) {
	e.buf = e.buf[:0]
	e.err = nil
	e.prevTag = ""
	e.section = sectionTags
	if err := ValidName(measurement); err != nil {
		e.fail("measurement", measurement, err)
		return
	}
	e.buf = appendEscaped(e.buf, measurement, ", ")
}

// AddTag adds a tag; keys must come in strictly increasing order.
func (e *Encoder) AddTag(key, value string) {
	if e.err != nil {
		return
	}
	if e.section != sectionTags {
		e.err = errors.New("lineproto: tag added outside the tag section")
		return
	}
	if err := ValidName(key); err != nil {
		e.fail("tag key", key, err)
		return
	}
	if err := ValidName(value); err != nil {
		e.fail("tag "+key+" value", value, err)
		return
	}
	if e.prevTag != "" && key <= e.prevTag {
		e.err = fmt.Errorf("lineproto: tag key %q out of order (after %q)", key, e.prevTag)
		return
	}
	e.prevTag = key
	e.buf = append(e.buf, ',')
	e.buf = appendEscaped(e.buf, key, ",= ")
	e.buf = append(e.buf, '=')
	e.buf = appendEscaped(e.buf, value, ",= ")
}

// AddField adds a field. A string value is written as InfluxDB reads it:
// only " and \ are escaped.
func (e *Encoder) AddField(key string, v lineprotocol.Value) {
	if e.err != nil {
		return
	}
	if e.section != sectionTags && e.section != sectionFields {
		e.err = errors.New("lineproto: field added outside the field section")
		return
	}
	if err := ValidName(key); err != nil {
		e.fail("field key", key, err)
		return
	}
	if e.section == sectionTags {
		e.buf = append(e.buf, ' ')
	} else {
		e.buf = append(e.buf, ',')
	}
	e.section = sectionFields
	e.buf = appendEscaped(e.buf, key, ",= ")
	e.buf = append(e.buf, '=')
	e.buf = AppendValue(e.buf, v)
}

// EndLine adds the timestamp (unix nanoseconds) and returns the line without
// a trailing newline, or the first error of the line.
func (e *Encoder) EndLine(ns int64) (string, error) {
	if e.err != nil {
		return "", e.err
	}
	if e.section != sectionFields {
		return "", errors.New("lineproto: line has no field")
	}
	e.section = sectionDone
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, ns, 10)
	return string(e.buf), nil
}

func (e *Encoder) fail(what, s string, err error) {
	e.err = fmt.Errorf("lineproto: %s %s: %w", what, strconv.Quote(s), err)
}

// ValidName reports why s cannot be a measurement name, tag key, tag value or
// field key, or nil.
func ValidName(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case s[len(s)-1] == '\\':
		return errors.New("ends with a backslash, which line protocol cannot represent")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n' || c == '\r':
			return errors.New("contains a newline or carriage return, which would end the line")
		case c == '\\' && i+1 < len(s) && (s[i+1] == ',' || s[i+1] == '=' || s[i+1] == ' '):
			return errors.New(`has a backslash before ",", "=" or " ", which line protocol cannot represent`)
		}
	}
	return nil
}

// AppendValue appends v as a field value. Numbers and booleans are encoded
// as by the line-protocol library; strings escape only " and \.
func AppendValue(dst []byte, v lineprotocol.Value) []byte {
	if v.Kind() != lineprotocol.String {
		return v.AppendBytes(dst)
	}
	dst = append(dst, '"')
	dst = appendEscaped(dst, v.StringV(), `"\`)
	return append(dst, '"')
}

// appendEscaped appends s with a backslash before every byte in special.
func appendEscaped(dst []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		for j := 0; j < len(special); j++ {
			if c == special[j] {
				dst = append(dst, '\\')
				break
			}
		}
		dst = append(dst, c)
	}
	return dst
}
