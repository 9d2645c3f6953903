// Package holidays reads the public holiday lists of the markets StorePulse's
// users sell in. The lists are data, not code: one CSV file per market in
// data/ (embedded), each naming its source in its header comments; lists of
// the same form in the datasource settings override them market by market
// (docs/query.md#holidays).
package holidays

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

//go:embed data/*.csv
var shipped embed.FS

// Limits of a list: a user's file is read once at start, but bounded anyway.
const (
	maxDays     = 10000
	maxFileSize = 1 << 20
)

// Day is one holiday (or other planned day) of a market: a local date.
type Day struct {
	Year  int
	Month time.Month
	Day   int
	Name  string
}

// Market is one market's list.
type Market struct {
	Code string
	Days []Day // ordered by date
}

// Set is the lists of every market by code.
type Set struct {
	markets map[string]Market
}

// validCode says whether a market code (a file name without .csv) is 2-32
// lower-case letters, digits, - or _, starting with a letter.
func validCode(c string) bool {
	if len(c) < 2 || len(c) > 32 || c[0] < 'a' || c[0] > 'z' {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// Shipped is the embedded lists (internal/holidays/data).
func Shipped() (*Set, error) {
	s := &Set{markets: map[string]Market{}}
	if err := s.readDir(shipped, "data"); err != nil {
		return nil, err
	}
	return s, nil
}

// Load is the shipped lists overridden by the user's lists (market code →
// the text of a file of the same form, e.g. from the datasource settings):
// each replaces the shipped list of its market, or adds a market (a
// store's planned closures, another country).
func Load(lists map[string]string) (*Set, error) {
	s, err := Shipped()
	if err != nil {
		return nil, err
	}
	for _, code := range slices.Sorted(maps.Keys(lists)) {
		if !validCode(code) {
			return nil, fmt.Errorf("holiday list %q: a market code is 2-32 lower-case letters, digits, - or _", code)
		}
		if len(lists[code]) > maxFileSize {
			return nil, fmt.Errorf("holiday list %q: larger than %d bytes", code, maxFileSize)
		}
		m, err := Parse(code, strings.NewReader(lists[code]))
		if err != nil {
			return nil, fmt.Errorf("holiday list %q: %w", code, err)
		}
		s.markets[code] = m
	}
	return s, nil
}

func (s *Set) readDir(fsys fs.FS, dir string) error {
	names, err := fs.Glob(fsys, filepath.ToSlash(filepath.Join(dir, "*.csv")))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("no <market>.csv files")
	}
	for _, name := range names {
		code := strings.TrimSuffix(filepath.Base(name), ".csv")
		if !validCode(code) {
			return fmt.Errorf("%s: the market code %q must be 2-32 lower-case letters, digits, - or _", name, code)
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		m, err := Parse(code, io.LimitReader(f, maxFileSize+1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.markets[code] = m
	}
	return nil
}

// Parse reads one market's list: comment lines starting with #, the header
// line date,name, then one line per day (date YYYY-MM-DD, name).
func Parse(code string, r io.Reader) (Market, error) {
	m := Market{Code: code}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 2
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Market{}, err
		}
		line, _ := cr.FieldPos(0)
		if first {
			if rec[0] != "date" || rec[1] != "name" {
				return Market{}, fmt.Errorf("line %d: the first line must be the header date,name, got %q", line, strings.Join(rec, ","))
			}
			first = false
			continue
		}
		d, err := time.Parse(time.DateOnly, rec[0])
		if err != nil {
			return Market{}, fmt.Errorf("line %d: date %q is not YYYY-MM-DD", line, rec[0])
		}
		name := strings.TrimSpace(rec[1])
		if name == "" || len(name) > 200 {
			return Market{}, fmt.Errorf("line %d: a day needs a name of 1-200 bytes", line)
		}
		if len(m.Days) >= maxDays {
			return Market{}, fmt.Errorf("more than %d days", maxDays)
		}
		m.Days = append(m.Days, Day{Year: d.Year(), Month: d.Month(), Day: d.Day(), Name: name})
	}
	if first {
		return Market{}, errors.New("empty: the first line must be the header date,name")
	}
	slices.SortStableFunc(m.Days, func(a, b Day) int { return a.date().Compare(b.date()) })
	return m, nil
}

func (d Day) date() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// Markets are the codes of the set, sorted.
func (s *Set) Markets() []string {
	out := make([]string, 0, len(s.markets))
	for c := range s.markets {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Market is the list of one market.
func (s *Set) Market(code string) (Market, bool) {
	m, ok := s.markets[code]
	return m, ok
}

// Check says whether every code is a market of the set.
func (s *Set) Check(codes []string) error {
	for _, c := range codes {
		if _, ok := s.markets[c]; !ok {
			return fmt.Errorf("unknown holiday market %q (known: %s)", c, strings.Join(s.Markets(), ", "))
		}
	}
	return nil
}

// Between are the days of a market whose date lies in [from, to] (dates of
// from and to in their own locations).
func (m Market) Between(from, to time.Time) []Day {
	f := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	t := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	var out []Day
	for _, d := range m.Days {
		if dt := d.date(); !dt.Before(f) && !dt.After(t) {
			out = append(out, d)
		}
	}
	return out
}
