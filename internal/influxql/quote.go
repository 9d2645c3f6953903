// Package influxql runs InfluxQL over the v1 /query HTTP API, which InfluxDB
// 1.8 serves natively, InfluxDB 2.x through its v1 compatibility API (with
// DBRP mappings) and InfluxDB 3.x as well: a small client (chunked responses,
// a timeout and a response-size bound on every call, errors that tell
// InfluxDB's answers from transport failures) and the quoting every query
// builder must use for identifiers, strings and times.
package influxql

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The escapes of InfluxQL's quoted strings and identifiers: a backslash, the
// quote, and a newline (which ends a literal unescaped). The 1.8 parser
// (influxql.ScanString) accepts exactly \\, \", \', \n; so do the 2.x and 3.x
// parsers.
var (
	identEscaper  = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	stringEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
)

// Ident quotes s as an InfluxQL identifier ("name"): measurement, field, tag
// key and alias names. Always quoted, so keywords (time, window, value) and
// any character are safe.
func Ident(s string) string { return `"` + identEscaper.Replace(s) + `"` }

// String quotes s as an InfluxQL string literal ('value'): tag values in
// WHERE. Whatever s holds, the literal ends at its closing quote: a value
// can never leave it.
func String(s string) string { return `'` + stringEscaper.Replace(s) + `'` }

// Time is t as an InfluxQL time literal: RFC 3339 in UTC with nanoseconds,
// exact to the nanosecond.
func Time(t time.Time) string { return "'" + t.UTC().Format(time.RFC3339Nano) + "'" }

// Duration is d as an InfluxQL duration literal (for GROUP BY time()): whole
// hours, minutes or seconds when exact, else nanoseconds. d must be positive.
func Duration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dns", d.Nanoseconds())
}

// ErrInvalidText is returned by Check for text no InfluxQL literal can carry.
var ErrInvalidText = errors.New("is not valid UTF-8 or holds a NUL byte or a carriage return")

// Check rejects text that is not valid UTF-8 or holds a NUL byte or a
// carriage return: InfluxDB stores no such names, and the 1.8 parser reads a
// carriage return as a newline (it has no escape for it), so a query
// builder reports such text as bad input instead of sending something else.
func Check(s string) error {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r") {
		return ErrInvalidText
	}
	return nil
}
