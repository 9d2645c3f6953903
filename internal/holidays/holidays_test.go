package holidays

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShipped(t *testing.T) {
	s, err := Shipped()
	require.NoError(t, err)
	require.Equal(t, []string{"cn", "de", "es", "fr", "id", "it", "my", "nl", "ph", "sg", "th", "us", "vn"}, s.Markets())
	for _, tt := range []struct {
		market string
		date   string
		name   string
	}{
		{"us", "2014-11-27", "Thanksgiving Day"},
		{"us", "2026-07-03", "Independence Day (observed)"},
		{"cn", "2026-10-07", "国庆节 National Day"},
		{"cn", "2026-02-14", "春节调休上班 working day (Spring Festival swap)"},
		{"de", "2026-04-03", "Karfreitag"},
		{"sg", "2026-02-17", "Chinese New Year"},
		{"th", "2026-04-13", "Songkran"},
	} {
		m, ok := s.Market(tt.market)
		require.True(t, ok, tt.market)
		d, err := time.Parse(time.DateOnly, tt.date)
		require.NoError(t, err)
		days := m.Between(d, d)
		require.Len(t, days, 1, "%s %s", tt.market, tt.date)
		require.Equal(t, tt.name, days[0].Name)
	}
	// every shipped file names its source
	for _, c := range s.Markets() {
		b, err := shipped.ReadFile("data/" + c + ".csv")
		require.NoError(t, err)
		require.Contains(t, string(b), "# Source: ", c)
		require.Contains(t, string(b), "# Coverage: ", c)
	}
}

func TestLoadOverride(t *testing.T) {
	s, err := Load(map[string]string{
		"us":             "# our own list\ndate,name\n2026-11-27,Black Friday\n2026-11-26,Thanksgiving Day\n",
		"store-closures": "date,name\n2026-12-01,stock-take\n",
	})
	require.NoError(t, err)
	us, ok := s.Market("us")
	require.True(t, ok)
	require.Equal(t, []Day{{2026, time.November, 26, "Thanksgiving Day"}, {2026, time.November, 27, "Black Friday"}}, us.Days, "replaced and sorted")
	require.NoError(t, s.Check([]string{"cn", "store-closures"}))
	require.ErrorContains(t, s.Check([]string{"xx"}), `unknown holiday market "xx" (known: cn, de,`)
	_, err = Load(map[string]string{"US": "date,name\n"})
	require.ErrorContains(t, err, `holiday list "US": a market code is`)
	_, err = Load(map[string]string{"us": "date,name\n2026-02-30,x\n"})
	require.ErrorContains(t, err, `holiday list "us": line 2: date "2026-02-30" is not YYYY-MM-DD`)
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ name, text, msg string }{
		{"no header", "2026-01-01,New Year\n", "the first line must be the header date,name"},
		{"bad date", "date,name\n2026-13-01,x\n", `line 2: date "2026-13-01" is not YYYY-MM-DD`},
		{"no name", "date,name\n2026-01-01,\n", "line 2: a day needs a name"},
		{"three fields", "date,name\n2026-01-01,a,b\n", "wrong number of fields"},
		{"empty", "# nothing\n", "empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("xx", strings.NewReader(tt.text))
			require.ErrorContains(t, err, tt.msg)
		})
	}
}
