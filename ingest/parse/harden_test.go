package parse

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCSVUnbalancedQuote: a row with an unbalanced quote is a 400 naming the
// row and line, not a panic (FieldPos was called before the error check).
func TestCSVUnbalancedQuote(t *testing.T) {
	m, err := ParseCSVMapping(orderMapping)
	require.NoError(t, err)
	for _, body := range []string{
		orderCSV(`o1,2026-11-24T10:00:00+08:00,u1,10,new`, `"o2,2026-11-24T10:00:00+08:00,u1,10,new`),
		orderCSV(`o1,2026-11-24T10:00:00+08:00,"u1,10,new`),
		orderCSVHeader + `"`,
	} {
		var perr *Error
		require.NotPanics(t, func() { _, err = CSV(strings.NewReader(body), m, Limits{Now: func() time.Time { return testNow }}) })
		require.ErrorAs(t, err, &perr)
		require.Equal(t, KindMalformed, perr.Kind, err.Error())
		require.Contains(t, err.Error(), "quote", err.Error())
	}
}

// TestUnknownKeysBoundedWork: a body of many and very long unknown keys gets
// an answer whose size does not grow with the keys (each echoed key is cut,
// items are capped at MaxErrors and per item, the rest counted), and the
// "did you mean" work is bounded. The old code echoed every key whole, three
// times, and compared each one by edit distance with every field name.
func TestUnknownKeysBoundedWork(t *testing.T) {
	lim := Limits{MaxErrors: 100, Now: func() time.Time { return testNow }}
	long := strings.Repeat("x", 64<<10)
	var b strings.Builder
	b.WriteString("[")
	const items, longPerItem, shortPerItem = 20, 10, 500
	for i := 0; i < items; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		over := map[string]string{}
		for k := 0; k < longPerItem; k++ {
			over[fmt.Sprintf("%s%d", long, k)] = "1"
		}
		for k := 0; k < shortPerItem; k++ {
			over[fmt.Sprintf("amoun%d", k)] = "1"
		}
		b.WriteString(ev(over))
	}
	b.WriteString("]")
	body := b.String()
	require.Greater(t, len(body), 12<<20)

	for name, parse := range map[string]func(string) error{
		"events": func(s string) error { _, err := Events(strings.NewReader(s), lim); return err },
		"metrics": func(s string) error {
			s = strings.ReplaceAll(s, `"type":"order"`, `"measurement":"sp_orders"`)
			_, err := Metrics(strings.NewReader(s), lim)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := parse(body)
			var perr *Error
			require.ErrorAs(t, err, &perr)
			require.Equal(t, KindInvalidItems, perr.Kind)
			require.LessOrEqual(t, len(perr.Items), lim.MaxErrors)
			for _, it := range perr.Items {
				require.LessOrEqual(t, len(it.Field), maxEchoedName+20, "echoed key is cut")
			}
			require.Less(t, len(perr.Error()), 64<<10, "the message does not grow with the keys")
			js, jerr := perr.MarshalJSON()
			require.NoError(t, jerr)
			require.Less(t, len(js), 128<<10)
			require.GreaterOrEqual(t, len(perr.Items)+perr.Truncated, items*(longPerItem+shortPerItem),
				"every unknown key is counted, listed or not")
			require.Contains(t, perr.Error(), fmt.Sprintf("%d of %d items invalid", items, items))
		})
	}
}

// TestSuggestBounded: suggestions stay for typos of short keys; long keys are
// never compared.
func TestSuggestBounded(t *testing.T) {
	require.Equal(t, "amount", suggest("ammount", allFields)) //nolint:misspell // the typo is the test
	require.Equal(t, "competitor_price", suggest("competitor_prise", allFields))
	require.Empty(t, suggest(strings.Repeat("amount", 1000), allFields))
	c := newCollector(2, "item")
	require.NotEmpty(t, c.hint("ammount", allFields))                                       //nolint:misspell // the typo is the test
	require.NotEmpty(t, c.hint("ammount", allFields))                                       //nolint:misspell // the typo is the test
	require.Empty(t, c.hint("ammount", allFields), "budget of one hint per listable error") //nolint:misspell // the typo is the test
}

// TestInvalidCountNeverExceedsTotal: "N of M lines invalid" never has N > M
// (found by make fuzz: a second entry on one line was counted as an extra
// line).
func TestInvalidCountNeverExceedsTotal(t *testing.T) {
	for _, body := range []string{" =\"\n0", "a v=1 =\"\n0\nb v=\"x\n y\" =\"\n1"} {
		_, err := LineProtocol(strings.NewReader(body), "", Limits{Now: func() time.Time { return testNow }})
		var perr *Error
		require.ErrorAs(t, err, &perr)
		m := invalidCount.FindStringSubmatch(perr.msg)
		require.NotNil(t, m, perr.msg)
		bad, _ := strconv.Atoi(m[1])
		total, _ := strconv.Atoi(m[2])
		require.LessOrEqual(t, bad, total, perr.msg)
	}
}
