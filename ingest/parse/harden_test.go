package parse

import (
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
