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
	"github.com/storepulse/storepulse/digest/locale"
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

// lang is the briefing's language (English when unknown: the briefing
// checked it when it was built).
func lang(br *briefing.Briefing) locale.Locale {
	l, err := locale.Parse(br.Language)
	if err != nil {
		return locale.Locale{}
	}
	return l
}

// value formats a KPI value in its unit.
func value(v *float64, unit, currency string) string {
	return valueIn(locale.Locale{}, v, unit, currency)
}

func valueIn(l locale.Locale, v *float64, unit, currency string) string {
	if v == nil {
		return "–"
	}
	return numberIn(l, *v, unit, currency)
}

func number(f float64, unit, currency string) string {
	return numberIn(locale.Locale{}, f, unit, currency)
}

func numberIn(l locale.Locale, f float64, unit, currency string) string {
	switch unit {
	case "currency":
		if math.Abs(f) >= 1000 {
			return l.Money(f, currency, 0)
		}
		return l.Money(f, currency, 2)
	case "percent":
		return l.Percent(f, 1, false)
	case "seconds":
		return l.Seconds(f, true)
	case "ratio":
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	if f == math.Trunc(f) || math.Abs(f) >= 100 {
		return l.Number(f, 0)
	}
	return l.Number(f, 1)
}

// change formats a fraction with its sign: +12.3 %.
func change(v *float64) string { return changeIn(locale.Locale{}, v) }

func changeIn(l locale.Locale, v *float64) string {
	if v == nil {
		return "–"
	}
	return l.Percent(*v, 1, true)
}

// percentIn formats a fraction: 93 %.
func percentIn(l locale.Locale, v *float64) string {
	if v == nil {
		return "–"
	}
	return l.Percent(*v, 0, false)
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
func impact(l locale.Locale, im briefing.Impact, currency string) string {
	if im.Currency != nil && im.Unit != "currency" {
		return fmt.Sprintf("%s (%s %s)", signedNumber(l, *im.Currency, "currency", currency), signedNumber(l, im.Value, "count", currency), l.T(im.Unit))
	}
	if im.Unit == "currency" {
		return signedNumber(l, im.Value, "currency", currency)
	}
	return signedNumber(l, im.Value, "count", currency) + " " + l.T(im.Unit)
}

func signedNumber(l locale.Locale, f float64, unit, currency string) string {
	s := numberIn(l, f, unit, currency)
	if f > 0 {
		return "+" + s
	}
	return s
}

// title is the briefing's headline.
func title(br *briefing.Briefing) string {
	l := lang(br)
	who := br.Business
	if br.Store != "" {
		who += l.F(" · store %s", br.Store)
	}
	return l.F("%s — morning briefing for %s, %s", who, br.Weekday, br.Date)
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

// lateDaysShown is how many of a store's days changed by late data the text
// names (the most recent ones); the JSON has them all.
const lateDaysShown = 5

// lateDays names the days a store's late data changed.
func lateDays(l locale.Locale, s briefing.LateStore) string {
	shown := s.Days
	if len(shown) > lateDaysShown {
		shown = shown[len(shown)-lateDaysShown:]
	}
	dates := make([]string, len(shown))
	for i, d := range shown {
		dates[i] = d.Date
	}
	text := strings.Join(dates, ", ")
	if more := s.MoreDays + len(s.Days) - len(shown); more > 0 {
		return l.F("%s and %d more days", text, more)
	}
	return text
}
