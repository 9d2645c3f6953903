// Package locale is the language of a briefing: its fixed texts (English or
// Simplified Chinese) and its number, percent and currency formats. A small
// table-driven formatter: both languages group thousands with "," and use "."
// for decimals; they differ in the currency (code "CNY 1,234" in English, the
// symbol "¥1,234" in Chinese), the percent sign (spaced in English) and the
// units. Texts are looked up by their English format string; a text without
// a translation stays English (a test checks every text of the briefing has
// one).
package locale

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Languages.
const (
	English = "en"
	Chinese = "zh-CN"
)

// Locale is one language.
type Locale struct{ tag string }

// Parse reads a language: en (the default when empty) or zh-CN (also zh,
// zh-Hans, zh_CN); anything else is an error naming the choices.
func Parse(s string) (Locale, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-")) {
	case "", "en", "en-us", "en-gb":
		return Locale{English}, nil
	case "zh", "zh-cn", "zh-hans", "zh-hans-cn":
		return Locale{Chinese}, nil
	}
	return Locale{}, fmt.Errorf("language %q is not supported (en or zh-CN)", s)
}

// Tag is en or zh-CN.
func (l Locale) Tag() string {
	if l.tag == "" {
		return English
	}
	return l.tag
}

// Zh reports whether the locale is Chinese.
func (l Locale) Zh() bool { return l.tag == Chinese }

// T translates a fixed text (an English format string).
func (l Locale) T(en string) string {
	if !l.Zh() {
		return en
	}
	if zh, ok := zhText(en); ok {
		return zh
	}
	return en
}

// F formats the translation of format with args (Chinese formats may
// reorder arguments with %[n]s).
func (l Locale) F(format string, args ...any) string { return fmt.Sprintf(l.T(format), args...) }

// Has reports whether en has a Chinese translation.
func Has(en string) bool {
	_, ok := zhText(en)
	return ok
}

// Weekday is a weekday's name.
func (l Locale) Weekday(d time.Weekday) string {
	if !l.Zh() {
		return d.String()
	}
	return [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}[d]
}

// Days is a count of days: "1 day", "5 days", "5 天".
func (l Locale) Days(n int) string {
	switch {
	case l.Zh():
		return strconv.Itoa(n) + " 天"
	case n == 1:
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// Number writes f with digits decimals and thousands separators.
func (l Locale) Number(f float64, digits int) string {
	s := strconv.FormatFloat(math.Abs(f), 'f', digits, 64)
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
	}
	var b strings.Builder
	if f < 0 && strings.Trim(s, "0.") != "" {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + frac
}

// Money writes an amount in a currency (ISO code) with digits decimals.
func (l Locale) Money(f float64, code string, digits int) string {
	n := l.Number(f, digits)
	if !l.Zh() {
		return code + " " + n
	}
	sym := map[string]string{"CNY": "¥", "RMB": "¥", "USD": "US$", "EUR": "€", "JPY": "JP¥", "HKD": "HK$", "GBP": "£"}[code]
	if sym == "" {
		return code + " " + n
	}
	if strings.HasPrefix(n, "-") {
		return "-" + sym + n[1:]
	}
	return sym + n
}

// Percent writes a fraction as percent with digits decimals, signed when
// asked: "12.3 %" in English, "12.3%" in Chinese.
func (l Locale) Percent(f float64, digits int, signed bool) string {
	format := "%." + strconv.Itoa(digits) + "f"
	if signed {
		format = "%+." + strconv.Itoa(digits) + "f"
	}
	s := fmt.Sprintf(format, f*100)
	if l.Zh() {
		return s + "%"
	}
	return s + " %"
}

// Points writes a change of a percentage in points: "+1.2 pp", "+1.2 个百分点".
func (l Locale) Points(f float64) string {
	s := fmt.Sprintf("%+.1f", f*100)
	if l.Zh() {
		return s + " 个百分点"
	}
	return s + " pp"
}

// Seconds writes a duration in seconds (minutes from 120 s on when long is set).
func (l Locale) Seconds(f float64, long bool) string {
	if long && math.Abs(f) >= 120 {
		if l.Zh() {
			return strconv.FormatFloat(f/60, 'f', 1, 64) + " 分钟"
		}
		return strconv.FormatFloat(f/60, 'f', 1, 64) + " min"
	}
	if l.Zh() {
		return strconv.FormatFloat(f, 'f', 0, 64) + " 秒"
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + " s"
}

// Hours writes a count of hours: "3 h", "3 小时".
func (l Locale) Hours(n int) string {
	if l.Zh() {
		return strconv.Itoa(n) + " 小时"
	}
	return strconv.Itoa(n) + " h"
}
