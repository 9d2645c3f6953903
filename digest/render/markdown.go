package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/storepulse/storepulse/digest/briefing"
)

// Dialect is a chat's flavour of Markdown.
type Dialect int

// Dialects.
const (
	DialectMarkdown Dialect = iota // CommonMark: generic webhooks, DingTalk
	DialectSlack                   // Slack mrkdwn: *bold*, <url|text>, no tables
	DialectWeCom                   // WeCom robot markdown: **bold**, [text](url), <font color>
)

// Chat message size limits: WeCom's robot takes 4096 bytes of markdown,
// DingTalk's about 20000, Slack's text 40000 characters.
const (
	wecomMaxBytes    = 4096
	dingtalkMaxBytes = 20000
	slackMaxBytes    = 39000
)

func localClock(br *briefing.Briefing, t time.Time) string {
	loc, err := time.LoadLocation(br.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("15:04")
}

type md struct {
	b strings.Builder
	d Dialect
}

// detail links a secondary item (a glance KPI, a reason, a campaign): WeCom's
// 4096 bytes leave no room for them, so there they are plain text.
func (m *md) detail(text, url string) string {
	if m.d == DialectWeCom || url == "" {
		return text
	}
	return m.link(text, url)
}

func (m *md) bold(s string) string {
	if m.d == DialectSlack {
		return "*" + s + "*"
	}
	return "**" + s + "**"
}

func (m *md) link(text, url string) string {
	if m.d == DialectSlack {
		return "<" + url + "|" + strings.NewReplacer("|", "/", ">", ")", "<", "(").Replace(text) + ">"
	}
	return "[" + strings.NewReplacer("[", "(", "]", ")").Replace(text) + "](" + url + ")"
}

// toned marks a text good or bad: WeCom colours it, the others use an emoji.
func (m *md) toned(s, tone string) string {
	switch {
	case m.d == DialectWeCom && tone == briefing.ToneGood:
		return `<font color="info">` + s + `</font>`
	case m.d == DialectWeCom && tone == briefing.ToneBad:
		return `<font color="warning">` + s + `</font>`
	case tone == briefing.ToneGood:
		return "🟢 " + s
	case tone == briefing.ToneBad:
		return "🔴 " + s
	}
	return s
}

func (m *md) heading(s string) {
	if m.d == DialectSlack {
		m.line(m.bold(s))
		return
	}
	m.line("### " + s)
}

func (m *md) line(s string) { m.b.WriteString(s + "\n") }

// Markdown writes the briefing as chat Markdown.
func Markdown(br *briefing.Briefing, d Dialect) string {
	m := &md{d: d}
	l := lang(br)
	if d == DialectSlack {
		m.line(m.bold(title(br)))
	} else {
		m.line("## " + title(br))
	}
	m.line("")
	m.heading(l.T("1. Yesterday at a glance"))
	for _, h := range br.Glance {
		s := fmt.Sprintf("- %s: %s", m.detail(h.Name, h.Link), m.bold(valueIn(l, h.Value, h.Unit, br.Currency)))
		s += l.T(" · vs last week ") + m.toned(arrow(h.Change)+" "+changeIn(l, h.Change), h.ChangeTone)
		if h.Attainment != nil {
			s += l.T(" · target ") + m.toned(percentIn(l, h.Attainment), h.TargetTone)
		}
		if h.MonthToDate.Attainment != nil {
			s += l.T(" · MTD ") + m.toned(percentIn(l, h.MonthToDate.Attainment), h.MonthToDate.Tone)
		}
		if f := h.Forecast; f != nil && f.Attainment != nil {
			s += l.T(" · month forecast ") + m.toned(l.F("%s of target", percentIn(l, f.Attainment)), f.Tone)
		}
		m.line(s)
	}
	m.line("")
	m.heading(l.T("2. What changed"))
	if br.NothingUnusual {
		m.line(l.T("Nothing unusual: every KPI stayed within its normal range."))
	}
	for _, c := range br.Changes {
		scope := ""
		if c.Store != "" && c.Store != br.Store {
			scope = l.F(" in store %s", c.Store)
		}
		if c.Category != "" {
			scope += " · " + c.Category
		}
		m.line(fmt.Sprintf("%d. ", c.Rank) + l.F("%s%s %s: %s against %s expected (normal %s – %s) · impact %s",
			m.toned(m.link(c.Name, c.Link), c.Tone), scope, l.T(c.Direction),
			m.bold(numberIn(l, c.Value, c.Unit, br.Currency)), numberIn(l, c.Expected, c.Unit, br.Currency),
			numberIn(l, c.Lower, c.Unit, br.Currency), numberIn(l, c.Upper, c.Unit, br.Currency), impact(l, c.Impact, br.Currency)))
		if h := hours(br, c); h != "" {
			m.line(l.T("   - unusual hours: ") + h)
		}
		for _, r := range c.Reasons {
			m.line(l.T("   - why: ") + m.detail(r.Text, r.Link))
		}
		for _, a := range c.Actions {
			m.line(l.F("   - do: %s (%s; rule %s)", a.Action, a.Owner, a.Rule))
		}
	}
	m.line("")
	m.heading(l.T("3. Rhythm"))
	if len(br.Rhythm.Campaigns) == 0 {
		m.line(l.T("No campaign in the next 30 days."))
	}
	for _, c := range br.Rhythm.Campaigns {
		for _, p := range c.Phases {
			if p.State == briefing.PhaseEnded {
				continue
			}
			m.line("- " + m.detail(p.Text, c.Link))
		}
	}
	for _, u := range br.Rhythm.Uplift {
		m.line("- " + l.F("%s: GMV %s against %s a day before it (%s); %s over the campaign so far",
			m.detail(u.Name, u.Link), valueIn(l, u.Day, "currency", br.Currency), valueIn(l, u.Baseline, "currency", br.Currency), changeIn(l, u.DayUplift), changeIn(l, u.ToDate)))
	}
	m.line("")
	m.heading(l.T("4. Data quality"))
	q := br.Quality
	if len(q.Silent) == 0 && len(q.Stale) == 0 {
		m.line(l.T("Every store sent data."))
	}
	for _, g := range q.Silent {
		m.line("- " + l.F("%s: no events for %s (%s – %s)", m.detail(l.F("store %s", g.Store), g.Link), l.Hours(g.Hours), localClock(br, g.From), localClock(br, g.To)))
	}
	for _, s := range q.Stale {
		m.line("- " + l.F("%s: newest data %s old", m.detail(l.F("store %s", s.Store), s.Link), (time.Duration(s.Age)*time.Second).String()))
	}
	for _, s := range q.Late {
		m.line("- " + l.F("%s: late data changed %s: %s events, GMV %s, paid %s, refunds %s", m.detail(l.F("store %s", s.Store), s.Link),
			lateDays(l, s), numberIn(l, s.Events, "count", br.Currency), numberIn(l, s.GMV, "currency", br.Currency),
			numberIn(l, s.PaidAmount, "currency", br.Currency), numberIn(l, s.RefundAmount, "currency", br.Currency)))
	}
	if q.LateChecked && len(q.Late) == 0 {
		m.line(l.T("No late data changed past days."))
	}
	if r := q.Rejected; r != nil {
		m.line("- " + l.F("rejected input: %d dead-letter files, %d quarantined files (%d new on the day)", r.DeadLetterFiles, r.QuarantineFiles, r.NewOnDay))
	}
	for _, n := range q.NotChecked {
		m.line(l.T("- not checked: ") + n)
	}
	m.line("")
	m.line(m.link(l.T("Open the wall screen"), br.Link))
	return m.b.String()
}

// truncate cuts s to at most n bytes on a line boundary, saying so.
func truncate(s string, n int, more string) string {
	if len(s) <= n {
		return s
	}
	cut := s[:n-len(more)-1]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i+1]
	}
	return cut + more
}

// Slack is the payload of a Slack incoming webhook.
func Slack(br *briefing.Briefing) ([]byte, error) {
	text := truncate(Markdown(br, DialectSlack), slackMaxBytes, "… (cut: open the JSON or HTML briefing)")
	return marshal(map[string]any{"text": text, "mrkdwn": true})
}

// WeCom is the payload of a WeCom (企业微信) group robot webhook.
func WeCom(br *briefing.Briefing) ([]byte, error) {
	text := truncate(Markdown(br, DialectWeCom), wecomMaxBytes, "… (cut at WeCom's 4096 bytes)")
	return marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": text}})
}

// DingTalk is the payload of a DingTalk (钉钉) custom robot webhook.
func DingTalk(br *briefing.Briefing) ([]byte, error) {
	text := truncate(Markdown(br, DialectMarkdown), dingtalkMaxBytes, "… (cut)")
	return marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title(br), "text": text}})
}

// Webhook is the generic webhook payload: a title, the Markdown and the
// briefing itself.
func Webhook(br *briefing.Briefing) ([]byte, error) {
	return marshal(map[string]any{"title": title(br), "markdown": Markdown(br, DialectMarkdown), "briefing": br})
}

// JSON is the briefing as indented JSON.
func JSON(br *briefing.Briefing) ([]byte, error) { return marshal(br) }

// marshal is indented JSON without HTML escaping (links keep their &).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return b.Bytes(), nil
}
