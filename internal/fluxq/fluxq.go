// Package fluxq writes values into Flux source safely: the one place that
// quotes strings and times for the Flux queries of the ingest service and the
// datasource.
package fluxq

import (
	"strings"
	"time"
)

// String quotes s as a Flux string literal. "$" is escaped too, since "${"
// starts an interpolation in Flux strings.
func String(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch c {
		case '"', '\\', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Time renders t as a Flux time literal (RFC 3339, UTC, nanoseconds).
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
