package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// TestFilterValuesCapped: more than models.MaxFilterValues values in one
// filter is a clear query error.
func TestFilterValuesCapped(t *testing.T) {
	vals := make([]string, models.MaxFilterValues+1)
	for i := range vals {
		vals[i] = fmt.Sprintf("s%d", i)
	}
	raw := fmt.Sprintf(`{"kpi":"gmv","filters":{"store":[%q]}}`, strings.Join(vals, `","`))
	raw = strings.ReplaceAll(raw, `\"`, `"`)
	_, err := models.ParseQuery([]byte(raw))
	require.ErrorContains(t, err, fmt.Sprintf(`filter "store" has %d values, at most %d`, len(vals), models.MaxFilterValues))
	_, err = models.ParseQuery([]byte(strings.Replace(raw, `"s0",`, "", 1)))
	require.NoError(t, err)
}
