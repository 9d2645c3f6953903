// Package render writes a briefing (digest/briefing) as JSON, Markdown for
// chat webhooks (generic, Slack, WeCom, DingTalk) and an HTML e-mail with
// inline CSS and inline SVG charts, without JavaScript.
package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/storepulse/storepulse/digest/briefing"
)

// Formats.
const (
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatSlack    = "slack"
	FormatWeCom    = "wecom"
	FormatDingTalk = "dingtalk"
	FormatWebhook  = "webhook"
	FormatHTML     = "html"
)

// Formats lists every format.
func Formats() []string {
	return []string{FormatJSON, FormatMarkdown, FormatSlack, FormatWeCom, FormatDingTalk, FormatWebhook, FormatHTML}
}

// Render writes br in format.
func Render(br *briefing.Briefing, format string) ([]byte, error) {
	switch format {
	case FormatJSON:
		return JSON(br)
	case FormatMarkdown:
		return []byte(Markdown(br, DialectMarkdown)), nil
	case FormatSlack:
		return Slack(br)
	case FormatWeCom:
		return WeCom(br)
	case FormatDingTalk:
		return DingTalk(br)
	case FormatWebhook:
		return Webhook(br)
	case FormatHTML:
		return HTML(br)
	}
	return nil, fmt.Errorf("render: unknown format %q (%s)", format, strings.Join(Formats(), ", "))
}

// value formats a KPI value in its unit.
func value(v *float64, unit, currency string) string {
	if v == nil {
		return "–"
	}
	return number(*v, unit, currency)
}

func number(f float64, unit, currency string) string {
	switch unit {
	case "currency":
		if math.Abs(f) >= 1000 {
			return currency + " " + grouped(f, 0)
		}
		return currency + " " + grouped(f, 2)
	case "percent":
		return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
	case "seconds":
		if math.Abs(f) >= 120 {
			return strconv.FormatFloat(f/60, 'f', 1, 64) + " min"
		}
		return strconv.FormatFloat(f, 'f', 0, 64) + " s"
	case "ratio":
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	if f == math.Trunc(f) || math.Abs(f) >= 100 {
		return grouped(f, 0)
	}
	return grouped(f, 1)
}

// grouped writes f with digits decimals and thousands separators.
func grouped(f float64, digits int) string {
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

// change formats a fraction with its sign: +12.3 %.
func change(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%+.1f %%", *v*100)
}

// percent formats a fraction: 93 %.
func percent(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", *v*100)
}

// arrow is ▲ or ▼ by the sign of v.
func arrow(v *float64) string {
	switch {
	case v == nil || *v == 0:
		return "="
	case *v > 0:
		return "▲"
	}
	return "▼"
}

// impact formats a change's impact: currency when it converts.
func impact(im briefing.Impact, currency string) string {
	if im.Currency != nil && im.Unit != "currency" {
		return fmt.Sprintf("%s (%s %s)", signedNumber(*im.Currency, "currency", currency), signedNumber(im.Value, "count", currency), im.Unit)
	}
	if im.Unit == "currency" {
		return signedNumber(im.Value, "currency", currency)
	}
	return signedNumber(im.Value, "count", currency) + " " + im.Unit
}

func signedNumber(f float64, unit, currency string) string {
	s := number(f, unit, currency)
	if f > 0 {
		if unit == "currency" {
			return "+" + s
		}
		return "+" + s
	}
	return s
}

// title is the briefing's headline.
func title(br *briefing.Briefing) string {
	who := br.Business
	if br.Store != "" {
		who += " · store " + br.Store
	}
	return fmt.Sprintf("%s — morning briefing for %s, %s", who, br.Weekday, br.Date)
}

// hours formats a change's flagged hours: 09:00–21:00.
func hours(br *briefing.Briefing, c briefing.Change) string {
	if len(c.Hours) == 0 {
		return ""
	}
	var parts []string
	for _, h := range c.Hours {
		parts = append(parts, localClock(br, h.Start)+"–"+localClock(br, h.End))
	}
	return strings.Join(parts, ", ")
}
