package render

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/digest/briefing"
)

func f(v float64) *float64 { return &v }

func TestNumbers(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{1234567.891, "currency", "CNY 1,234,568"},
		{354.066, "currency", "CNY 354.07"},
		{-21772.4, "currency", "CNY -21,772"},
		{0.0341, "percent", "3.4 %"},
		{45, "seconds", "45 s"},
		{600, "seconds", "10.0 min"},
		{1234, "count", "1,234"},
		{61.5, "count", "61.5"},
		{1.2345, "ratio", "1.23"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, number(tt.v, tt.unit, "CNY"), "%v %s", tt.v, tt.unit)
	}
	require.Equal(t, "+12.3 %", change(f(0.123)))
	require.Equal(t, "–", value(nil, "currency", "CNY"))
}

// big is a briefing with many long changes: chat payloads must stay within
// their size limits.
func big() *briefing.Briefing {
	br := &briefing.Briefing{Business: "Shop", Date: "2026-05-19", Weekday: "Tuesday", TimeZone: "Asia/Shanghai", Currency: "CNY",
		Link: "https://g.example.com/d/storepulse-wall"}
	for i := range 40 {
		br.Changes = append(br.Changes, briefing.Change{Rank: i + 1, KPI: "gmv", Name: "GMV 国内", Unit: "currency", Tone: briefing.ToneBad,
			Direction: "down", Value: 100, Expected: 200, Link: "https://g.example.com/d/x?var-kpi=gmv&var-store=s" + fmt.Sprint(i),
			Reasons: []briefing.Reason{{Kind: briefing.ReasonDimension, Text: strings.Repeat("店铺原因 ", 20), Link: "https://g.example.com/r"}},
			Actions: []briefing.Action{{Rule: "revenue-drop", Action: "检查漏斗", Owner: "运营"}}})
	}
	br.Rhythm.From = "2026-05-20"
	br.Rhythm.Campaigns = []briefing.CampaignPlan{{ID: "618", Name: "618", Phases: []briefing.PhasePlan{{Name: "warm-up",
		Start: time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), State: briefing.PhaseUpcoming, Text: "618 warm-up starts in 5 days"}}}}
	return br
}

func TestChatPayloads(t *testing.T) {
	br := big()
	tests := []struct {
		format string
		text   func(map[string]any) string
		limit  int
	}{
		{FormatWeCom, func(m map[string]any) string { return m["markdown"].(map[string]any)["content"].(string) }, wecomMaxBytes},
		{FormatDingTalk, func(m map[string]any) string { return m["markdown"].(map[string]any)["text"].(string) }, dingtalkMaxBytes},
		{FormatSlack, func(m map[string]any) string { return m["text"].(string) }, slackMaxBytes},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out, err := Render(br, tt.format)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(out, &m))
			text := tt.text(m)
			require.LessOrEqual(t, len(text), tt.limit)
			require.True(t, utf8.ValidString(text))
			require.Contains(t, text, "morning briefing for Tuesday, 2026-05-19")
		})
	}
	out, err := Render(br, FormatSlack)
	require.NoError(t, err)
	require.Contains(t, string(out), "<https://g.example.com/d/x?var-kpi=gmv&var-store=s0|GMV 国内>")
	_, err = Render(br, "pdf")
	require.ErrorContains(t, err, `unknown format "pdf"`)
}

func TestHTMLNoScript(t *testing.T) {
	br := big()
	br.Changes[0].Name = `<script>alert(1)</script>`
	out, err := HTML(br)
	require.NoError(t, err)
	require.NotContains(t, string(out), "<script")
	require.Contains(t, string(out), "&lt;script&gt;")
	require.Contains(t, string(out), "618 warm-up starts in 5 days")
}

// TestLateData: the stores whose late data changed past days are listed
// with their days, events and amounts in every format and both languages;
// a checked briefing without any says so.
func TestLateData(t *testing.T) {
	late := func(lang string) *briefing.Briefing {
		br := big()
		br.Changes = nil
		br.Language = lang
		days := []briefing.LateDay{}
		for d := 10; d <= 17; d++ {
			days = append(days, briefing.LateDay{Date: fmt.Sprintf("2026-05-%02d", d), Events: 1})
		}
		br.Quality = briefing.Quality{LateChecked: true, Late: []briefing.LateStore{
			{Store: "s002", Days: days[7:], Events: 3, GMV: 100, PaidAmount: 80, Link: "https://g.example.com/late/s002"},
			{Store: "s003", Days: days, MoreDays: 2, Events: 10, RefundAmount: 30.5, Link: "https://g.example.com/late/s003"},
		}}
		return br
	}
	tests := []struct {
		lang, format string
		want         []string
	}{
		{"en", FormatMarkdown, []string{
			"[store s002](https://g.example.com/late/s002): late data changed 2026-05-17: 3 events, GMV CNY 100.00, paid CNY 80.00, refunds CNY 0.00",
			"[store s003](https://g.example.com/late/s003): late data changed 2026-05-13, 2026-05-14, 2026-05-15, 2026-05-16, 2026-05-17 and 5 more days: 10 events, GMV CNY 0.00, paid CNY 0.00, refunds CNY 30.50"}},
		{"zh-CN", FormatMarkdown, []string{"迟到数据改变了 2026-05-17：3 个事件，GMV ¥100.00，支付 ¥80.00，退款 ¥0.00", "2026-05-17 等另外 5 天"}},
		{"en", FormatHTML, []string{`<a href="https://g.example.com/late/s002" style="color:#1f2328">store s002</a>: late data changed 2026-05-17: 3 events`}},
		{"zh-CN", FormatHTML, []string{`>门店 s002</a>：迟到数据改变了 2026-05-17：3 个事件`}},
		{"en", FormatJSON, []string{`"late": [`, `"store": "s003"`, `"moreDays": 2`, `"lateChecked": true`}},
		{"en", FormatWeCom, []string{"late data changed 2026-05-17: 3 events"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.format, func(t *testing.T) {
			out, err := Render(late(tt.lang), tt.format)
			require.NoError(t, err)
			for _, w := range tt.want {
				require.Contains(t, string(out), w)
			}
			require.NotContains(t, string(out), "No late data")
		})
	}
	none := big()
	none.Quality = briefing.Quality{LateChecked: true, Late: []briefing.LateStore{}}
	require.Contains(t, Markdown(none, DialectMarkdown), "No late data changed past days.")
	none.Quality.LateChecked = false
	require.NotContains(t, Markdown(none, DialectMarkdown), "No late data changed past days.")
}

// A change of one category of a store (the price index checked per
// category) names the store and the category in Markdown and HTML.
func TestChangeCategory(t *testing.T) {
	br := &briefing.Briefing{Business: "Shop", Date: "2026-05-13", Weekday: "Wednesday", TimeZone: "Asia/Shanghai", Currency: "CNY",
		Changes: []briefing.Change{{Rank: 1, KPI: "price_index", Name: "Price index", Unit: "ratio", Store: "s003", Category: "apparel",
			Tone: briefing.ToneGood, Direction: "down", Value: 0.683, Expected: 0.961, Impact: briefing.Impact{Value: 641.5, Unit: "count"}}}}
	md, err := Render(br, FormatMarkdown)
	require.NoError(t, err)
	require.Contains(t, string(md), "in store s003 · apparel down")
	html, err := HTML(br)
	require.NoError(t, err)
	require.Contains(t, string(html), " · store s003 · apparel ")
}
