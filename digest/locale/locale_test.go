package locale

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct{ in, tag, err string }{
		{"", English, ""}, {"en", English, ""}, {"zh-CN", Chinese, ""}, {"zh_cn", Chinese, ""}, {"zh-Hans", Chinese, ""},
		{"fr", "", `language "fr" is not supported (en or zh-CN)`}, {"zh-TW", "", `"zh-TW"`},
	}
	for _, tt := range tests {
		l, err := Parse(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.tag, l.Tag(), tt.in)
	}
}

func TestFormats(t *testing.T) {
	en, zh := Locale{}, Locale{Chinese}
	tests := []struct{ got, want string }{
		{en.Money(1234567.891, "CNY", 0), "CNY 1,234,568"},
		{zh.Money(1234567.891, "CNY", 0), "¥1,234,568"},
		{zh.Money(-12.5, "CNY", 2), "-¥12.50"},
		{zh.Money(12, "CHF", 2), "CHF 12.00"},
		{en.Percent(0.1234, 1, false), "12.3 %"},
		{zh.Percent(0.1234, 1, true), "+12.3%"},
		{en.Points(-0.012), "-1.2 pp"},
		{zh.Seconds(300, true), "5.0 分钟"},
		{en.Days(1), "1 day"}, {en.Days(5), "5 days"}, {zh.Days(5), "5 天"},
		{zh.Weekday(time.Tuesday), "星期二"}, {en.Weekday(time.Tuesday), "Tuesday"},
		{zh.F("%s — morning briefing for %s, %s", "Demo", "星期二", "2026-05-19"), "Demo — 2026-05-19（星期二）晨报"},
		{en.T("2. What changed"), "2. What changed"},
		{zh.T("no such text"), "no such text"},
	}
	for i, tt := range tests {
		require.Equal(t, tt.want, tt.got, i)
	}
}
