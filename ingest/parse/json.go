package parse

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a minimal strict JSON scanner over the whole body. It exists
// because generic decoding (map[string]any or reflection) is several times too
// slow for the ingest budget, and because it knows byte offsets and lines.
type scanner struct {
	data []byte
	pos  int
	line int
}

type syntaxError struct {
	off  int
	line int
	msg  string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, byte offset %d: %s", e.line, e.off, e.msg)
}

const maxDepth = 32

func (s *scanner) errf(format string, args ...any) *syntaxError {
	return &syntaxError{off: s.pos, line: s.line, msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) found() string {
	if s.pos >= len(s.data) {
		return "end of input"
	}
	c := s.data[s.pos]
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte %#02x", c)
	}
	return fmt.Sprintf("%q", c)
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r':
		case '\n':
			s.line++
		default:
			return
		}
		s.pos++
	}
}

// skipSpaceInLine skips blanks but not newlines (NDJSON separators).
func (s *scanner) skipSpaceInLine() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) eof() bool { return s.pos >= len(s.data) }

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// readString reads a string at s.pos (which must be '"'). Without escapes the
// result aliases the body; with escapes it is a fresh slice.
func (s *scanner) readString() ([]byte, error) {
	start := s.pos + 1
	for i := start; i < len(s.data); i++ {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i], nil
		case c == '\\':
			return s.readEscaped(start, i)
		case c < 0x20:
			s.pos = i
			return nil, s.errf("control character %#02x in string (escape it)", c)
		}
	}
	s.pos = len(s.data)
	return nil, s.errf("unterminated string")
}

func (s *scanner) readEscaped(start, i int) ([]byte, error) {
	out := make([]byte, 0, i-start+16)
	out = append(out, s.data[start:i]...)
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return out, nil
		case c < 0x20:
			s.pos = i
			return nil, s.errf("control character %#02x in string (escape it)", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s.data) {
			break
		}
		e := s.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s.data, i)
			if !ok {
				s.pos = i - 2
				return nil, s.errf(`invalid \u escape`)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if i+6 <= len(s.data) && s.data[i] == '\\' && s.data[i+1] == 'u' {
					r2, ok2 = hex4(s.data, i+2)
				}
				dec := utf16.DecodeRune(r, r2)
				if !ok2 || dec == utf8.RuneError {
					s.pos = i - 6
					return nil, s.errf(`invalid \u escape: unpaired UTF-16 surrogate`)
				}
				i += 6
				r = dec
			}
			out = utf8.AppendRune(out, r)
		default:
			s.pos = i - 2
			return nil, s.errf("invalid escape %q in string", []byte{'\\', e})
		}
	}
	s.pos = len(s.data)
	return nil, s.errf("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// readNumber reads a JSON number literal, strictly per RFC 8259.
func (s *scanner) readNumber() ([]byte, error) {
	start := s.pos
	i := s.pos
	d := s.data
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.errf("invalid number: expected a digit, found %s", s.found())
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return nil, s.errf("invalid number: expected a digit after '.', found %s", s.found())
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return nil, s.errf("invalid number: expected a digit in the exponent, found %s", s.found())
		}
	}
	s.pos = i
	return d[start:i], nil
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return nil
	}
	return s.errf("invalid literal, expected %s", word)
}

// value reads any JSON value into v; objects and arrays are skipped and only
// their kind is kept (no StorePulse field holds one).
func (s *scanner) value(v *rawVal) error {
	if s.eof() {
		return s.errf("expected a value, found end of input")
	}
	var err error
	switch c := s.data[s.pos]; {
	case c == '"':
		v.kind = vString
		v.raw, err = s.readString()
	case c == '-' || (c >= '0' && c <= '9'):
		v.kind = vNumber
		v.raw, err = s.readNumber()
	case c == 't':
		v.kind, v.b = vBool, true
		err = s.literal("true")
	case c == 'f':
		v.kind, v.b = vBool, false
		err = s.literal("false")
	case c == 'n':
		v.kind = vNull
		err = s.literal("null")
	case c == '{':
		v.kind = vObject
		err = s.skip(0)
	case c == '[':
		v.kind = vArray
		err = s.skip(0)
	default:
		return s.errf("expected a value, found %s", s.found())
	}
	return err
}

// skip skips a composite value at s.pos.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errf("nesting deeper than %d levels", maxDepth)
	}
	open := s.data[s.pos]
	s.pos++
	s.skipWS()
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	if s.peek() == closer {
		s.pos++
		return nil
	}
	for {
		s.skipWS()
		if open == '{' {
			if s.peek() != '"' {
				return s.errf("expected a field name in double quotes, found %s", s.found())
			}
			if _, err := s.readString(); err != nil {
				return err
			}
			if err := s.colon(); err != nil {
				return err
			}
		}
		var err error
		if c := s.peek(); c == '{' || c == '[' {
			err = s.skip(depth + 1)
		} else {
			var v rawVal
			err = s.value(&v)
		}
		if err != nil {
			return err
		}
		more, err := s.next(closer)
		if err != nil || !more {
			return err
		}
	}
}

// colon consumes the ':' after a key and the blanks around it.
func (s *scanner) colon() error {
	s.skipWS()
	if s.peek() != ':' {
		return s.errf("expected ':' after a field name, found %s", s.found())
	}
	s.pos++
	s.skipWS()
	return nil
}

// next consumes ',' (more=true) or closer (more=false) after a member.
func (s *scanner) next(closer byte) (bool, error) {
	s.skipWS()
	switch s.peek() {
	case ',':
		s.pos++
		return true, nil
	case closer:
		s.pos++
		return false, nil
	}
	return false, s.errf("expected ',' or '%c', found %s", closer, s.found())
}

// object iterates the members of the object at s.pos, calling member with the
// scanner positioned at each value; member must consume the value.
func (s *scanner) object(member func(key []byte) error) error {
	if s.peek() != '{' {
		return s.errf("expected '{', found %s", s.found())
	}
	s.pos++
	s.skipWS()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipWS()
		if s.peek() != '"' {
			return s.errf("expected a field name in double quotes, found %s", s.found())
		}
		key, err := s.readString()
		if err != nil {
			return err
		}
		if err := s.colon(); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		more, err := s.next('}')
		if err != nil || !more {
			return err
		}
	}
}

// items walks a JSON array of objects or NDJSON (chosen by the first
// non-blank byte) and calls item at each object. Non-object items are
// reported to errs and skipped. It returns the number of items, or an *Error
// for empty, malformed or oversized input.
func (s *scanner) items(lim Limits, errs *collector, item func(index, line int) error) (int, error) {
	s.line = 1
	s.skipWS()
	if s.eof() {
		return 0, newError(KindEmpty, "item", "request body is empty; want a JSON array of objects or NDJSON")
	}
	n := 0
	malformed := func(err error) (int, error) {
		e := newError(KindMalformed, "item", "malformed JSON")
		e.Items = []ItemError{{Index: n, Line: s.line, Reason: err.Error()}}
		if se, ok := err.(*syntaxError); ok { //nolint:errorlint // produced unwrapped by this scanner
			e.Items[0].Line = se.line
		}
		return 0, e
	}
	one := func() error {
		if n >= lim.MaxItems {
			return newError(KindTooManyItems, "item",
				"more than %d items in one request; split it into smaller requests", lim.MaxItems)
		}
		line := s.line
		if s.peek() != '{' {
			var v rawVal
			if err := s.value(&v); err != nil {
				return err
			}
			errs.add(n, line, "", "must be a JSON object, got "+v.describe())
		} else if err := item(n, line); err != nil {
			return err
		}
		n++
		return nil
	}
	handle := func(err error) (int, error) {
		if pe, ok := err.(*Error); ok { //nolint:errorlint // our own sentinel type, never wrapped
			return 0, pe
		}
		return malformed(err)
	}

	switch s.peek() {
	case '[':
		s.pos++
		s.skipWS()
		if s.peek() == ']' {
			s.pos++
			break
		}
		for {
			s.skipWS()
			if err := one(); err != nil {
				return handle(err)
			}
			more, err := s.next(']')
			if err != nil {
				return malformed(err)
			}
			if !more {
				break
			}
		}
	case '{':
		for !s.eof() {
			if err := one(); err != nil {
				return handle(err)
			}
			s.skipSpaceInLine()
			if !s.eof() && s.peek() != '\n' {
				return malformed(s.errf("expected a newline after an object (NDJSON holds one object per line), found %s", s.found()))
			}
			s.skipWS()
		}
		return n, nil
	default:
		return malformed(s.errf("expected '[' (JSON array) or '{' (NDJSON), found %s", s.found()))
	}
	s.skipWS()
	if !s.eof() {
		return malformed(s.errf("unexpected data after the closing ']': %s", s.found()))
	}
	if n == 0 {
		return 0, newError(KindEmpty, "item", "the array holds no items")
	}
	return n, nil
}
